package admin

// A staff API token (seed 001, the API Auth tab) is created and deleted
// through the generic credential path (credentials.go). What is its own is
// here: it is found by its member, who holds at most one, and it has an IP
// whitelist.

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// StaffToken returns the user's API token (without its secret), with its
// IP whitelist.
func (s *Service) StaffToken(ctx context.Context, a Actor, userID string) (*gatehouse.Credential, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	if _, err := s.member(ctx, a.TenantID, userID); err != nil {
		return nil, err
	}
	return s.heldBy(ctx, a.TenantID, gatehouse.KindStaff, userID)
}

// tokenForWhitelist is the user's token for a whitelist change; without
// one it is ECONFLICT (the +New IP Whitelist button appears only once a
// token exists).
func (s *Service) tokenForWhitelist(ctx context.Context, a Actor, userID string) (*gatehouse.Credential, error) {
	c, err := s.StaffToken(ctx, a, userID)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		if _, merr := s.member(ctx, a.TenantID, userID); merr != nil {
			return nil, merr
		}
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "the user has no API token; generate one first").WithID("error.no_api_token")
	}
	return c, err
}

// StaffAllowList returns the IP whitelist of the user's token.
func (s *Service) StaffAllowList(ctx context.Context, a Actor, userID string) ([]gatehouse.AllowEntry, error) {
	c, err := s.tokenForWhitelist(ctx, a, userID)
	if err != nil {
		return nil, err
	}
	return c.AllowList, nil
}

// AddStaffAllowEntry adds a named address or CIDR to the whitelist of the
// user's token: names of at most 20 characters, at most 20 entries.
func (s *Service) AddStaffAllowEntry(ctx context.Context, a Actor, userID, name, cidr string) (*gatehouse.AllowEntry, error) {
	c, err := s.tokenForWhitelist(ctx, a, userID)
	if err != nil {
		return nil, err
	}
	p, err := gatehouse.ParsePrefix(cidr)
	if err != nil {
		return nil, err
	}
	// Names are trimmed as PAT names and API key descriptions are, so a
	// blank name is refused however the front end sent it.
	e := &gatehouse.AllowEntry{Name: strings.TrimSpace(name), Prefix: p}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if len(c.AllowList) >= gatehouse.MaxAllowEntries {
		return nil, gatehouse.FieldError("cidr", "a token has at most %d IP whitelist entries", gatehouse.MaxAllowEntries).
			WithID("error.cidr.too_many", "Max", gatehouse.MaxAllowEntries)
	}
	ctx = s.auditedOn(ctx, a, "ip_whitelist.add", func() auditTarget {
		return auditTarget{Summary: fmt.Sprintf("%s %s %s", c.ID, e.Name, e.Prefix), ID: e.ID, Name: e.Name, Details: map[string]string{"credential": c.ID, "cidr": e.Prefix.String()}}
	})
	if err := s.store.AddAllowEntry(ctx, a.TenantID, c.ID, e); err != nil {
		return nil, err
	}
	return e, nil
}

// DeleteStaffAllowEntry removes one whitelist entry of the user's token.
func (s *Service) DeleteStaffAllowEntry(ctx context.Context, a Actor, userID, entryID string) error {
	c, err := s.tokenForWhitelist(ctx, a, userID)
	if err != nil {
		return err
	}
	var entry *gatehouse.AllowEntry
	for i := range c.AllowList {
		if c.AllowList[i].ID == entryID {
			entry = &c.AllowList[i]
		}
	}
	if entry == nil {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "no such IP whitelist entry").WithID("error.ip_entry.notfound")
	}
	return s.store.DeleteAllowEntry(s.auditedOn(ctx, a, "ip_whitelist.delete", func() auditTarget {
		return auditTarget{Summary: fmt.Sprintf("%s %s %s", c.ID, entry.Name, entry.Prefix), ID: entry.ID, Name: entry.Name, Details: map[string]string{"credential": c.ID, "cidr": entry.Prefix.String()}}
	}), a.TenantID, c.ID, entryID)
}
