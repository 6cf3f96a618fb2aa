package admin

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Via is the credential behind a management API call: what it is and what
// it holds.
type Via struct {
	CredentialID string
	Kind         gatehouse.Kind
	Scopes       []string
	ExpiresAt    *time.Time // nil = never expires
}

// ViaPrincipal is the Via of a verified principal.
func ViaPrincipal(p *gatehouse.Principal) *Via {
	return &Via{CredentialID: p.CredentialID, Kind: p.Kind, Scopes: p.Scopes, ExpiresAt: p.ExpiresAt}
}

// SPEC §9: a credential with "manage" acts with its owner's role, but the
// credentials it creates hold "manage" or "verify" only if it holds them
// itself, and expire no later than it does. Security: "no wider
// credentials" holds for the resource tree too — what a credential creates
// (a PAT, an API key, a staff token, an OAuth app's scopes, an
// integration's resources) is granted only resources the credential
// itself is granted (ResourceTree.Subset: a scope covers its subtree,
// "all" the whole tree). A console session, which proved the password, and
// the operator are not bounded this way; their role is.

// CheckDelegation refuses, for an actor that authenticated with a
// credential, scopes the credential does not itself grant and an expiry
// later than its own (a nil exp is "never"). field names the request
// field the scopes came from.
func (s *Service) CheckDelegation(a Actor, field string, scopes []string, exp *time.Time) error {
	if err := s.CheckDelegatedScopes(a, field, scopes); err != nil {
		return err
	}
	if a.Via == nil {
		return nil
	}
	if v := a.Via.ExpiresAt; v != nil {
		switch {
		case exp == nil:
			return gatehouse.FieldError("expires_at", "the token making this request expires at %s, so what it creates must expire no later: set expires_at", v.UTC().Format(time.RFC3339)).
				WithID("error.delegate.expiry_required", "At", v.UTC().Format(time.RFC3339))
		case exp.After(*v):
			return gatehouse.FieldError("expires_at", "the token making this request expires at %s; expires_at may not be later", v.UTC().Format(time.RFC3339)).
				WithID("error.delegate.expiry_later", "At", v.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// CheckDelegatedScopes is CheckDelegation's scope half, for what has no
// expiry of its own (an OAuth app's scopes, an integration's resources).
func (s *Service) CheckDelegatedScopes(a Actor, field string, scopes []string) error {
	if a.Via == nil {
		return nil
	}
	if !s.tree.Subset(scopes, a.Via.Scopes) {
		var wider []string
		for _, sc := range scopes {
			if !s.tree.Subset([]string{sc}, a.Via.Scopes) {
				wider = append(wider, sc)
			}
		}
		return gatehouse.FieldError(field, "the token making this request does not hold %s, so it cannot grant %s (it holds %s)",
			quoteList(wider), pronoun(len(wider)), quoteList(a.Via.Scopes)).
			WithID("error.delegate.scopes", "Wider", strings.Join(wider, ", "), "Held", strings.Join(a.Via.Scopes, ", "))
	}
	return nil
}

// CheckLasting refuses, for an actor whose credential expires, to create
// something that never expires (what is a confidential OAuth app's secret
// with the client_credentials grant, or an integration's access token).
func CheckLasting(a Actor, what string) error {
	if a.Via == nil || a.Via.ExpiresAt == nil {
		return nil
	}
	return gatehouse.Errorf(gatehouse.EFORBIDDEN,
		"the token making this request expires at %s and %s never expire; use a token without an expiry or the console",
		a.Via.ExpiresAt.UTC().Format(time.RFC3339), what).
		WithID("error.delegate.lasting", "At", a.Via.ExpiresAt.UTC().Format(time.RFC3339))
}

// checkOwnerGrant refuses making an owner over the API with anything but
// a personal access token: an OAuth app's access token, a staff token or
// an API key acts for someone else's software, and an owner it made would
// outlive the app's revocation.
func checkOwnerGrant(a Actor) error {
	if a.Via == nil || a.Via.Kind == gatehouse.KindPAT {
		return nil
	}
	return gatehouse.Errorf(gatehouse.EFORBIDDEN, "owners are made in the console, with the command line, or with an owner's personal access token").
		WithID("error.delegate.owner")
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
