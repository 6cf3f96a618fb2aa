package admin

// What a member may read of their own, whatever their role: the staff API
// token an admin generated for them (seed 001) and its IP whitelist. Staff
// cannot manage credentials (requireManager refuses them everywhere else),
// but they hold this one and should see what it is: its hint, its expiry,
// when it was last used and from which addresses it works. They never see
// another member's token; an admin reading someone else's keeps using
// StaffToken.

import (
	"context"

	"github.com/gatehouse/gatehouse"
)

// MyStaffToken returns the actor's own staff API token in the actor's
// tenant (without its secret, which is never stored), with its IP
// whitelist; expired tokens are returned too, so the holder can see that
// theirs has expired. A member who holds none gets ENOTFOUND; an actor who
// is not a user (the operator) or no longer a member gets EFORBIDDEN.
//
// Security: the token is looked up by a.UserID only, never by an argument,
// so no role can use this call to read another member's token; the
// membership is read fresh from the store, so a removed member gets
// nothing even with an actor built before the removal.
func (s *Service) MyStaffToken(ctx context.Context, a Actor) (*gatehouse.Credential, error) {
	if a.UserID == "" {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "an API token belongs to a user").WithID("error.api_token.user")
	}
	if _, err := s.member(ctx, a.TenantID, a.UserID); err != nil {
		if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "the user is not a member of this tenant").WithID("error.not_member")
		}
		return nil, err
	}
	c, err := s.heldBy(ctx, a.TenantID, gatehouse.KindStaff, a.UserID)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "you have no API token in this tenant").WithID("me.token.empty")
	}
	return c, err
}
