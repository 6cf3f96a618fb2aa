package admin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// The credentials of the management path — personal access tokens, staff
// API tokens, API keys — go through one set of methods, which take the
// kind and follow its gatehouse.KindSpec row:
//
//	CreateCredential  Create: the kind's holder says whose it is and who may make it
//	Credentials       List: the tenant's live credentials of the kind
//	Credential        Get: one of them, revoked ones included
//	RevokeCredential  Revoke: for kinds with a Revoked audit action
//	DeleteCredential  Delete: for kinds with a Deleted audit action (staff)
//
// Every method needs an owner, an admin or the operator. The other kinds
// (OAuth 2.0 tokens, integration tokens) are issued by their own flows.
// What a kind has beyond its row lives beside it: staff.go has the staff
// token's lookup by member and its IP whitelist.

// CredentialInput is what the creator of a credential chooses (seed 001's
// API Auth tab, seed 002's Generate token, seed 003's Add New).
type CredentialInput struct {
	// Name is the value of the kind's NameField (a PAT's name, an API
	// key's description); unused for a kind with a FixedName.
	Name string
	// UserID is the member a HolderMember credential (a staff token) is
	// for; unused for the other holders (a PAT is the actor's own, an API
	// key the tenant's).
	UserID string
	// Scopes are the resources it grants; nil or empty is the kind's
	// DefaultScopes.
	Scopes    []string
	ExpiresAt *time.Time // nil = never expires
}

// CreateCredential generates a credential of kind for in and returns it
// with its plaintext token, shown this once: only its hash is stored.
//
// The kind's holder decides whose it is and who may make it: a PAT is the
// actor's own and only owners and admins hold one (staff get staff
// tokens); a staff token is a member's, an owner's only by an owner, and
// a member holds one at most, expired or not, until it is deleted; an API
// key is the tenant's and survives its creator leaving. Its scopes are
// within the actor's credential's (CheckDelegation) and hold "manage" only
// for a kind that MayManage; its expiry is in the future. A kind with a
// LiveLimit is capped at that many times Options.MaxTokensPerUser live
// credentials per holder.
func (s *Service) CreateCredential(ctx context.Context, a Actor, kind gatehouse.Kind, in CredentialInput) (*gatehouse.Credential, string, error) {
	spec, err := creatable(kind)
	if err != nil {
		return nil, "", err
	}
	if err := requireManager(a); err != nil {
		return nil, "", err
	}
	c := &gatehouse.Credential{TenantID: a.TenantID, Kind: kind, Name: spec.FixedName}
	target := c.Name // the audit event's TargetName (credentialName)
	switch spec.Holder {
	case gatehouse.HolderSelf:
		if a.UserID == "" || !a.Role.CanManage() {
			return nil, "", gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s belong to owners and admins", spec.Noun).WithID("error.kind.managers_only")
		}
		c.UserID = a.UserID
	case gatehouse.HolderMember:
		m, err := s.member(ctx, a.TenantID, in.UserID)
		if err != nil {
			return nil, "", err
		}
		// Security: admins do not act on owners (as SetRole and RemoveMember
		// refuse); a token in an owner's name would be one an owner never made.
		if m.Role == gatehouse.RoleOwner && !a.Operator && a.Role != gatehouse.RoleOwner {
			return nil, "", gatehouse.Errorf(gatehouse.EFORBIDDEN, "only owners may generate an API token for an owner").WithID("error.owner_api_token")
		}
		c.UserID, target = m.UserID, m.Email
	}
	if spec.NameField != "" {
		c.Name = strings.TrimSpace(in.Name)
		if c.Name == "" || utf8.RuneCountInString(c.Name) > spec.NameLimit {
			if spec.NameField == "description" {
				return nil, "", gatehouse.FieldError(spec.NameField, "%s must be 1-%d characters", spec.NameField, spec.NameLimit).
					WithID("error.description.length", "Max", spec.NameLimit)
			}
			return nil, "", gatehouse.FieldError(spec.NameField, "%s must be 1-%d characters", spec.NameField, spec.NameLimit).
				WithID("error.name.length", "Max", spec.NameLimit)
		}
		if err := gatehouse.CheckText(spec.NameField, c.Name); err != nil {
			return nil, "", err
		}
		target = c.Name
	}
	scopes := in.Scopes
	if len(scopes) == 0 && spec.DefaultScopes != nil {
		scopes = slices.Clone(spec.DefaultScopes)
	}
	if c.Scopes, err = s.tree.NormalizeScopes(scopes); err != nil {
		return nil, "", err
	}
	// SPEC §9: only a credential that acts with its user's role may hold
	// the reserved "manage" resource.
	if !spec.MayManage && slices.Contains(c.Scopes, gatehouse.ScopeManage) {
		return nil, "", gatehouse.FieldError("scopes", "%s cannot hold the %q resource", spec.Noun, gatehouse.ScopeManage).WithID("error.scope.manage")
	}
	if c.ExpiresAt, err = s.checkExpiry(in.ExpiresAt); err != nil {
		return nil, "", err
	}
	if err := s.CheckDelegation(a, "scopes", c.Scopes, c.ExpiresAt); err != nil {
		return nil, "", err
	}
	if spec.Holder == gatehouse.HolderMember {
		if _, err := s.heldBy(ctx, a.TenantID, kind, c.UserID); err == nil {
			return nil, "", errMemberHolds
		} else if !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return nil, "", err
		}
	}
	limit := spec.LiveLimit * s.maxTokens
	tok, err := s.issue(ctx, a, c, limit, spec.Created, target)
	switch {
	case !gatehouse.IsCode(err, gatehouse.ECONFLICT):
		return c, tok, err
	case spec.Holder == gatehouse.HolderMember: // lost a race with another create
		return nil, "", errMemberHolds
	case spec.Holder == gatehouse.HolderSelf:
		return nil, "", gatehouse.Errorf(gatehouse.ECONFLICT,
			"you already hold %d live %s in this tenant, the most allowed; revoke unused ones first", limit, spec.Noun).
			WithID("error.limit.self", "Max", limit)
	default:
		return nil, "", gatehouse.Errorf(gatehouse.ECONFLICT,
			"the tenant already holds %d live %s, the most allowed; revoke unused ones first", limit, spec.Noun).
			WithID("error.limit.tenant", "Max", limit)
	}
}

// errMemberHolds is a second HolderMember credential: the member must
// delete theirs first (seed 001, where the credential is the "API token").
var errMemberHolds = gatehouse.Errorf(gatehouse.ECONFLICT,
	"the user already has an API token; delete it before generating a new one").WithID("staff.error.exists")

// creatable is kind's row when the management path creates credentials of it.
func creatable(kind gatehouse.Kind) (gatehouse.KindSpec, error) {
	spec, ok := kind.Spec()
	if !ok || spec.Created == "" {
		return spec, gatehouse.Errorf(gatehouse.EINVALID, "credentials of kind %q are not created here", kind).WithID("error.kind.not_created", "Kind", string(kind))
	}
	return spec, nil
}

// issue generates the token of a validated credential c, stores only its
// hash, audits action on c (named target: credentialName) and returns
// the plaintext, once. With limit > 0 it
// is ECONFLICT when c's holder (its user, or the tenant when c has none)
// already keeps limit live credentials of c's kind. The audit event is
// stored in the credential's transaction: a credential whose event cannot
// be written is not stored either, so no live token exists whose secret
// was never shown.
func (s *Service) issue(ctx context.Context, a Actor, c *gatehouse.Credential, limit int, action, target string) (string, error) {
	tok := secret.NewToken(c.Kind)
	c.Hash, c.Hint = secret.HashBytes(tok), secret.Hint(tok)
	c.CreatedAt = s.Now()
	ctx = s.auditedOn(ctx, a, action, func() auditTarget { return credentialTarget(c, target) })
	var err error
	if limit > 0 {
		err = s.store.CreateCredentialWithin(ctx, c, limit)
	} else {
		err = s.store.CreateCredential(ctx, c)
	}
	if err != nil {
		return "", fmt.Errorf("create %s: %w", c.Kind, err)
	}
	return tok, nil
}

// checkExpiry refuses expiry times in the past and normalises to UTC.
func (s *Service) checkExpiry(t *time.Time) (*time.Time, error) {
	if t == nil || t.IsZero() {
		return nil, nil
	}
	if !t.After(s.Now()) {
		return nil, gatehouse.FieldError("expires_at", "the expiry must be in the future").WithID("error.field.expires_at")
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u, nil
}

// Credentials lists a page of the tenant's credentials of kind that f
// selects (its Status, Query, UserID and Page), newest first; with no
// Status, the ones not revoked.
func (s *Service) Credentials(ctx context.Context, a Actor, kind gatehouse.Kind, f gatehouse.CredentialFilter) (gatehouse.Page[*gatehouse.Credential], error) {
	if err := requireManager(a); err != nil {
		return gatehouse.Page[*gatehouse.Credential]{}, err
	}
	if _, err := gatehouse.ParseCredentialStatus(string(f.Status)); err != nil {
		return gatehouse.Page[*gatehouse.Credential]{}, err
	}
	if err := gatehouse.CheckQuery(f.Query); err != nil {
		return gatehouse.Page[*gatehouse.Credential]{}, err
	}
	q := pageQuery(f.Page)
	f.Kind, f.IncludeRevoked, f.At, f.Page = kind, false, s.Now(), q.Plus1()
	list, err := s.store.ListCredentials(ctx, a.TenantID, f)
	return gatehouse.PageOf(list, q, (*gatehouse.Credential).At), err
}

// pageQuery is q with its limit defaulted and bounded (SPEC §9): callers
// check what their users send, this keeps every read bounded.
func pageQuery(q gatehouse.PageQuery) gatehouse.PageQuery {
	q.Limit = min(cmp.Or(max(q.Limit, 0), gatehouse.DefaultPageLimit), gatehouse.MaxPageLimit)
	return q
}

// Credential returns one credential of the tenant and kind, revoked or not.
func (s *Service) Credential(ctx context.Context, a Actor, kind gatehouse.Kind, id string) (*gatehouse.Credential, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	return s.findCredential(ctx, a.TenantID, kind, id)
}

// findCredential finds a credential of the tenant and kind; one of
// another tenant or kind is ENOTFOUND, so kinds stay apart.
func (s *Service) findCredential(ctx context.Context, tenantID string, kind gatehouse.Kind, id string) (*gatehouse.Credential, error) {
	c, err := s.store.FindCredential(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	if c.Kind != kind {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no such %s", kind).WithID("error.credential.notfound")
	}
	return c, nil
}

// RevokeCredential revokes a credential of the tenant and kind at once, on
// every node; it then answers REVOKED (seed 003: the consuming application
// can prompt for a new key). Revoking a revoked one is a no-op.
func (s *Service) RevokeCredential(ctx context.Context, a Actor, kind gatehouse.Kind, id string) error {
	spec, _ := kind.Spec()
	c, err := s.toEnd(ctx, a, kind, id, spec.Revoked, "revoked")
	if err != nil {
		return err
	}
	if c.Revoked() {
		return nil
	}
	t := credentialTarget(c, s.credentialName(ctx, c))
	if err := s.store.RevokeCredential(s.auditedOn(ctx, a, spec.Revoked, func() auditTarget { return t }), a.TenantID, id, s.Now()); err != nil {
		return fmt.Errorf("revoke %s: %w", kind, err)
	}
	return nil
}

// DeleteCredential deletes a credential of the tenant and kind and, with
// it, its whole IP whitelist (seed 001: "Are you sure?"). It stops working
// at once, on every node, and from then on answers REVOKED, as every
// ended credential does (a revoked PAT or API key, the tokens of a
// deleted integration or OAuth app): the credential is revoked, its row
// kept until housekeeping prunes it, and its whitelist entries removed.
// Nobody sees it again: the console, the API and the one-token-per-member
// rule (heldBy) know only live ones. Deleting a deleted one is a no-op
// (a revoked one that still has a whitelist loses it, unlogged).
func (s *Service) DeleteCredential(ctx context.Context, a Actor, kind gatehouse.Kind, id string) error {
	spec, _ := kind.Spec()
	c, err := s.toEnd(ctx, a, kind, id, spec.Deleted, "deleted")
	if err != nil {
		return err
	}
	// Security: the revocation and the whitelist's removal are one
	// transaction (the store's RetireCredential): a failure in between
	// cannot leave a live token with no whitelist, which every address
	// may use. The row stays, so the secret answers REVOKED.
	if c.Revoked() && len(c.AllowList) == 0 {
		return nil // deleted before: nothing to do, nothing to log again
	}
	if !c.Revoked() {
		t := credentialTarget(c, s.credentialName(ctx, c))
		ctx = s.auditedOn(ctx, a, spec.Deleted, func() auditTarget { return t })
	}
	if err := s.store.RetireCredential(ctx, a.TenantID, c.ID, s.Now()); err != nil {
		return fmt.Errorf("delete %s: %w", kind, err)
	}
	return nil
}

// credentialTarget is what the audit log says about credential c named
// name (credentialName): its id and name, and the summary "id name".
func credentialTarget(c *gatehouse.Credential, name string) auditTarget {
	t := auditTarget{Summary: c.ID, ID: c.ID, Name: name}
	if name != "" {
		t.Summary += " " + name
	}
	return t
}

// credentialName is how the audit log names c: a member's token (a staff
// API token, whose name is fixed) by its holder's email, every other one
// by its name.
func (s *Service) credentialName(ctx context.Context, c *gatehouse.Credential) string {
	spec, _ := c.Kind.Spec()
	if spec.Holder != gatehouse.HolderMember || c.UserID == "" {
		return c.Name
	}
	u, err := s.store.FindUserByID(ctx, c.UserID)
	if err != nil {
		s.log.WarnContext(ctx, "audit: credential holder", "credential", c.ID, "err", err)
		return c.Name
	}
	return u.Email
}

// toEnd finds the credential a revocation or a deletion (how) ends, whose
// audit action is action: "" when credentials of kind are not ended that
// way here.
func (s *Service) toEnd(ctx context.Context, a Actor, kind gatehouse.Kind, id, action, how string) (*gatehouse.Credential, error) {
	if action == "" {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "credentials of kind %q are not %s here", kind, how).WithID("error.kind.not_ended", "Kind", string(kind))
	}
	if err := requireManager(a); err != nil {
		return nil, err
	}
	return s.findCredential(ctx, a.TenantID, kind, id)
}

// heldBy finds the user's non-revoked credential of kind, expired or not.
func (s *Service) heldBy(ctx context.Context, tenantID string, kind gatehouse.Kind, userID string) (*gatehouse.Credential, error) {
	list, err := s.store.ListCredentials(ctx, tenantID, gatehouse.CredentialFilter{Kind: kind, UserID: userID})
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		if !c.Revoked() {
			return c, nil
		}
	}
	return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "the user has no API token").WithID("error.no_api_token")
}

// DefaultMaxTokensPerUser is how many live personal access tokens a user
// may hold in a tenant unless Options.MaxTokensPerUser says otherwise.
const DefaultMaxTokensPerUser = 100
