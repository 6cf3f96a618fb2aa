package admin

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// MinPasswordLen is the shortest password accepted (NIST SP 800-63B: 8).
const MinPasswordLen = 8

// NewMember describes a user to add to a tenant.
type NewMember struct {
	Email    string
	Role     gatehouse.Role
	Password string // sets the password of a new user; "" = cannot log in
}

// AddMember adds a user to the actor's tenant, creating the user when the
// email is new. An existing user's password is never changed here.
func (s *Service) AddMember(ctx context.Context, a Actor, in NewMember) (*gatehouse.Member, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	email, err := gatehouse.NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := checkGrant(a, in.Role); err != nil {
		return nil, err
	}
	if in.Password != "" {
		if err := ValidatePassword(in.Password); err != nil {
			return nil, err
		}
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	switch {
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		u = &gatehouse.User{Email: email}
		if in.Password != "" {
			if u.PasswordHash, err = s.hashPassword(ctx, in.Password); err != nil {
				return nil, err
			}
		}
		if err := s.store.CreateUser(ctx, u); err != nil {
			return nil, fmt.Errorf("create user: %w", err)
		}
	case err != nil:
		return nil, err
	}
	m := &gatehouse.Membership{TenantID: a.TenantID, UserID: u.ID, Role: in.Role}
	if err := s.store.AddMembership(s.auditedOn(ctx, a, "user.create", func() auditTarget {
		return auditTarget{Summary: fmt.Sprintf("%s role=%s", email, in.Role), ID: u.ID, Name: email, Details: map[string]string{"role": string(in.Role)}}
	}), m); err != nil {
		if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
			return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "%s is already a member", email).WithID("error.already_member", "Email", email)
		}
		return nil, fmt.Errorf("add membership: %w", err)
	}
	return &gatehouse.Member{Membership: *m, Email: email}, nil
}

// ValidatePassword checks a new password's length.
func ValidatePassword(p string) error {
	if n := utf8.RuneCountInString(p); n < MinPasswordLen || len(p) > 1024 {
		return gatehouse.FieldError("password", "the password must be at least %d characters", MinPasswordLen).WithID("error.field.password", "Min", MinPasswordLen)
	}
	return nil
}

// checkGrant refuses invalid roles and lets only owners hand out "owner".
func checkGrant(a Actor, role gatehouse.Role) error {
	if !role.Valid() {
		return gatehouse.FieldError("role", "role must be owner, admin or staff").WithID("error.field.role")
	}
	if role == gatehouse.RoleOwner && !a.Operator && a.Role != gatehouse.RoleOwner {
		return gatehouse.Errorf(gatehouse.EFORBIDDEN, "only owners may make owners").WithID("error.owners_make_owners")
	}
	if role == gatehouse.RoleOwner {
		return checkOwnerGrant(a)
	}
	return nil
}

// Members lists a page of the tenant's members that f selects, newest first.
func (s *Service) Members(ctx context.Context, a Actor, f gatehouse.MemberFilter) (gatehouse.Page[*gatehouse.Member], error) {
	if err := requireManager(a); err != nil {
		return gatehouse.Page[*gatehouse.Member]{}, err
	}
	if f.Role != "" && !f.Role.Valid() {
		return gatehouse.Page[*gatehouse.Member]{}, gatehouse.FieldError("role", "role must be owner, admin or staff").WithID("error.field.role")
	}
	if err := gatehouse.CheckQuery(f.Query); err != nil {
		return gatehouse.Page[*gatehouse.Member]{}, err
	}
	q := pageQuery(f.Page)
	f.Page = q.Plus1()
	list, err := s.store.ListMembers(ctx, a.TenantID, f)
	return gatehouse.PageOf(list, q, (*gatehouse.Member).At), err
}

// Member returns one member of the tenant.
func (s *Service) Member(ctx context.Context, a Actor, userID string) (*gatehouse.Member, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	return s.member(ctx, a.TenantID, userID)
}

// member finds one member of the tenant by two lookups, not by listing
// every member: lists page, and a page shows each row's holder. A user
// of another tenant only is ENOTFOUND, like one that does not exist.
func (s *Service) member(ctx context.Context, tenantID, userID string) (*gatehouse.Member, error) {
	m, err := s.store.FindMembership(ctx, tenantID, userID)
	if gatehouse.ErrorCode(err) == gatehouse.ENOTFOUND {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no such user").WithID("error.user.notfound")
	}
	if err != nil {
		return nil, err
	}
	u, err := s.store.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	return &gatehouse.Member{Membership: *m, Email: u.Email}, nil
}

// SetRole changes a member's role. Admins cannot touch owners or make
// owners, and the last owner cannot be demoted.
func (s *Service) SetRole(ctx context.Context, a Actor, userID string, role gatehouse.Role) (*gatehouse.Member, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	if err := checkGrant(a, role); err != nil {
		return nil, err
	}
	m, err := s.member(ctx, a.TenantID, userID)
	if err != nil {
		return nil, err
	}
	if m.Role == role {
		return m, nil
	}
	if err := s.checkOwnerChange(ctx, a, m); err != nil {
		return nil, err
	}
	ctx = s.auditedOn(ctx, a, "user.role", func() auditTarget {
		return auditTarget{Summary: fmt.Sprintf("%s role=%s", m.Email, role), ID: m.UserID, Name: m.Email,
			Changes: []gatehouse.AuditChange{{Field: "role", Old: string(m.Role), New: string(role)}}}
	})
	if err := s.store.SetMembershipRole(ctx, a.TenantID, userID, role); err != nil {
		return nil, fmt.Errorf("set role: %w", err)
	}
	m.Role = role
	return m, nil
}

// RemoveMember removes a user from the tenant; every credential the user
// holds there is revoked in the same transaction.
func (s *Service) RemoveMember(ctx context.Context, a Actor, userID string) error {
	if err := requireManager(a); err != nil {
		return err
	}
	m, err := s.member(ctx, a.TenantID, userID)
	if err != nil {
		return err
	}
	if err := s.checkOwnerChange(ctx, a, m); err != nil {
		return err
	}
	if err := s.store.RemoveMembership(s.auditedOn(ctx, a, "user.remove", on(m.UserID, m.Email, m.Email)), a.TenantID, userID, s.Now()); err != nil {
		return fmt.Errorf("remove membership: %w", err)
	}
	return nil
}

// checkOwnerChange guards demoting or removing an owner.
func (s *Service) checkOwnerChange(ctx context.Context, a Actor, m *gatehouse.Member) error {
	if m.Role != gatehouse.RoleOwner {
		return nil
	}
	if !a.Operator && a.Role != gatehouse.RoleOwner {
		return gatehouse.Errorf(gatehouse.EFORBIDDEN, "only owners may change an owner").WithID("error.owners_change_owners")
	}
	members, err := s.store.ListMembers(ctx, a.TenantID, gatehouse.MemberFilter{Role: gatehouse.RoleOwner})
	if err != nil {
		return err
	}
	owners := 0
	for _, x := range members {
		if x.Role == gatehouse.RoleOwner {
			owners++
		}
	}
	if owners <= 1 {
		return gatehouse.Errorf(gatehouse.ECONFLICT, "a tenant must keep at least one owner").WithID("error.last_owner")
	}
	return nil
}
