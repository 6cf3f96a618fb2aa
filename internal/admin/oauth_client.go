package admin

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// ClientInput registers an OAuth 2.0 app (seed 002: Integrations › API ›
// Activate).
type ClientInput struct {
	Name         string
	RedirectURIs []string
	// AllowedOrigins are the browser origins that may read the app's token
	// and revocation answers (CORS); empty: its redirect URIs' origins.
	AllowedOrigins []string
	Scopes         []string // the most the app may be granted
	Confidential   bool
	GrantTypes     []string // default: authorization_code and refresh_token
	RequirePAR     bool     // RFC 9126 §6: only pushed authorization requests
}

// clientSecretLen base62 characters carry 44·log2(62) ≈ 262 bits (≥ 256).
const clientSecretLen = 44

// MaxSecretGrace bounds how long a rotated-out client secret keeps working.
const MaxSecretGrace = 7 * 24 * time.Hour

// CreateClient registers an app of the actor's tenant and returns it with
// its secret (confidential clients only), shown once and stored as SHA-256:
// a generated secret has enough entropy that a slow KDF would only cap
// issuance. OAuth apps are an Enterprise-plan feature (seed 002).
func (s *Service) CreateClient(ctx context.Context, a Actor, in ClientInput) (*gatehouse.Client, string, error) {
	if err := requireManager(a); err != nil {
		return nil, "", err
	}
	t, err := s.store.FindTenantByID(ctx, a.TenantID)
	if err != nil {
		return nil, "", err
	}
	if t.Plan != gatehouse.PlanEnterprise {
		return nil, "", gatehouse.Errorf(gatehouse.EFORBIDDEN, "OAuth apps are available on the Enterprise plan").WithID("error.oauth_enterprise")
	}
	grants := in.GrantTypes
	if len(grants) == 0 {
		grants = []string{gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken}
	}
	slices.Sort(grants)
	grants = slices.Compact(grants)
	scopes, err := s.tree.NormalizeScopes(in.Scopes)
	if err != nil {
		return nil, "", err
	}
	if slices.Contains(scopes, gatehouse.ScopeManage) {
		// SPEC §9: OAuth apps are never granted manage.
		return nil, "", gatehouse.FieldError("scopes", "OAuth apps cannot be granted manage").WithID("error.scope.oauth_manage")
	}
	origins, err := normalizeOrigins(in.AllowedOrigins)
	if err != nil {
		return nil, "", err
	}
	c := &gatehouse.Client{
		AllowedOrigins: origins,
		ID:             gatehouse.ClientIDPrefix + secret.RandomString(24, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
		TenantID:       a.TenantID,
		Name:           strings.TrimSpace(in.Name),
		RedirectURIs:   in.RedirectURIs,
		Scopes:         scopes,
		Confidential:   in.Confidential,
		GrantTypes:     grants,
		RequirePAR:     in.RequirePAR,
	}
	if err := c.Validate(); err != nil {
		return nil, "", err
	}
	var sec string
	if c.Confidential {
		sec = secret.RandomString(clientSecretLen, secret.Alphabet62)
		c.SecretHash, c.SecretHint = secret.HashBytes(sec), sec[:4]+"…"
	}
	if err := s.store.CreateClient(s.auditedOn(ctx, a, "oauth_client.create", on(c.ID, c.Name, c.ID+" "+c.Name)), c); err != nil {
		return nil, "", fmt.Errorf("create client: %w", err)
	}
	return c, sec, nil
}

// Clients lists a page of the tenant's apps that f selects, newest first.
func (s *Service) Clients(ctx context.Context, a Actor, f gatehouse.ListFilter) (gatehouse.Page[*gatehouse.Client], error) {
	if err := requireManager(a); err != nil {
		return gatehouse.Page[*gatehouse.Client]{}, err
	}
	if err := gatehouse.CheckQuery(f.Query); err != nil {
		return gatehouse.Page[*gatehouse.Client]{}, err
	}
	q := pageQuery(f.Page)
	f.Page = q.Plus1()
	list, err := s.store.ListClients(ctx, a.TenantID, f)
	return gatehouse.PageOf(list, q, (*gatehouse.Client).At), err
}

// Client returns one app of the tenant; another tenant's is ENOTFOUND.
func (s *Service) Client(ctx context.Context, a Actor, clientID string) (*gatehouse.Client, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	c, err := s.store.FindClient(ctx, clientID)
	if err != nil && !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		return nil, err
	}
	if err != nil || c.TenantID != a.TenantID {
		// One answer for missing and for another tenant's: nothing leaks.
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no such OAuth app").WithID("error.oauth_app.notfound")
	}
	return c, nil
}

// DeleteClient deletes an app; every token it issued stops working at once.
func (s *Service) DeleteClient(ctx context.Context, a Actor, clientID string) error {
	c, err := s.Client(ctx, a, clientID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteClient(s.auditedOn(ctx, a, "oauth_client.delete", on(c.ID, c.Name, c.ID+" "+c.Name)), a.TenantID, c.ID, s.Now()); err != nil {
		return fmt.Errorf("delete client: %w", err)
	}
	return nil
}

// ClientUpdate edits an app's registration; a nil field stays as it is.
// The client id, the type (confidential or public) and the secret never
// change here: a client id is what integrators have deployed, and a type
// change would be a different app.
type ClientUpdate struct {
	Name         *string
	RedirectURIs *[]string // an empty list removes every redirect URI
	// AllowedOrigins: an empty list returns to the default (the redirect
	// URIs' origins).
	AllowedOrigins *[]string
	Scopes         *[]string
	GrantTypes     *[]string
	RequirePAR     *bool
}

// UpdateClient edits an app of the actor's tenant with the rules of
// CreateClient (exact redirect URIs, https except loopback, scopes of the
// resource tree but never manage, grant types the app's type allows) and
// records the old and new values in the audit log. Another tenant's app is
// ENOTFOUND. Narrowing takes effect for what comes next: a removed
// redirect URI is refused by new authorization requests, and a removed
// scope is no longer granted by new authorizations, client_credentials
// or refreshes (the token endpoint intersects a refresh token's scopes
// with the app's); access tokens already issued keep theirs until they
// expire (1 hour). docs/decisions.md says why.
func (s *Service) UpdateClient(ctx context.Context, a Actor, clientID string, in ClientUpdate) (*gatehouse.Client, error) {
	old, err := s.Client(ctx, a, clientID)
	if err != nil {
		return nil, err
	}
	t, err := s.store.FindTenantByID(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	if t.Plan != gatehouse.PlanEnterprise {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "OAuth apps are available on the Enterprise plan").WithID("error.oauth_enterprise")
	}
	c := *old
	if in.Name != nil {
		c.Name = strings.TrimSpace(*in.Name)
	}
	if in.RedirectURIs != nil {
		c.RedirectURIs = nil
		if len(*in.RedirectURIs) > 0 {
			c.RedirectURIs = slices.Clone(*in.RedirectURIs)
		}
	}
	if in.AllowedOrigins != nil {
		if c.AllowedOrigins, err = normalizeOrigins(*in.AllowedOrigins); err != nil {
			return nil, err
		}
	}
	if in.Scopes != nil {
		scopes, err := s.tree.NormalizeScopes(*in.Scopes)
		if err != nil {
			return nil, err
		}
		if slices.Contains(scopes, gatehouse.ScopeManage) {
			// SPEC §9: OAuth apps are never granted manage.
			return nil, gatehouse.FieldError("scopes", "OAuth apps cannot be granted manage").WithID("error.scope.oauth_manage")
		}
		c.Scopes = scopes
	}
	if in.GrantTypes != nil {
		grants := slices.Clone(*in.GrantTypes)
		slices.Sort(grants)
		c.GrantTypes = slices.Compact(grants)
	}
	if in.RequirePAR != nil {
		c.RequirePAR = *in.RequirePAR
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	changes := clientChanges(old, &c)
	if len(changes) == 0 {
		return old, nil // nothing to save, nothing to log
	}
	ctx = s.auditedOn(ctx, a, "oauth_client.update", func() auditTarget {
		return auditTarget{Summary: c.ID + " " + c.Name, ID: c.ID, Name: c.Name, Changes: changes}
	})
	if err := s.store.UpdateClient(ctx, &c); err != nil {
		if gatehouse.IsCode(err, gatehouse.ENOTFOUND) { // deleted meanwhile
			return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no such OAuth app").WithID("error.oauth_app.notfound")
		}
		return nil, fmt.Errorf("update client: %w", err)
	}
	return &c, nil
}

// clientChanges lists the registration fields that differ, old → new;
// lists are written space-separated.
func clientChanges(old, c *gatehouse.Client) []gatehouse.AuditChange {
	var out []gatehouse.AuditChange
	add := func(field, o, n string) {
		if o != n {
			out = append(out, gatehouse.AuditChange{Field: field, Old: o, New: n})
		}
	}
	add("name", old.Name, c.Name)
	add("redirect_uris", strings.Join(old.RedirectURIs, " "), strings.Join(c.RedirectURIs, " "))
	add("allowed_origins", strings.Join(old.AllowedOrigins, " "), strings.Join(c.AllowedOrigins, " "))
	add("scopes", strings.Join(old.Scopes, " "), strings.Join(c.Scopes, " "))
	add("grant_types", strings.Join(old.GrantTypes, " "), strings.Join(c.GrantTypes, " "))
	add("require_pushed_authorization_requests", strconv.FormatBool(old.RequirePAR), strconv.FormatBool(c.RequirePAR))
	return out
}

// normalizeOrigins writes each allowed origin as a browser sends it
// (gatehouse.NormalizeOrigin: "HTTPS://App.example.com/" becomes
// "https://app.example.com"); Client.Validate then checks the count and
// duplicates. An empty list is nil: the default.
func normalizeOrigins(in []string) ([]string, error) {
	if len(in) > gatehouse.MaxAllowedOrigins {
		return nil, gatehouse.FieldError("allowed_origins", "at most %d allowed origins", gatehouse.MaxAllowedOrigins).WithID("error.origin.too_many", "Max", gatehouse.MaxAllowedOrigins)
	}
	var out []string
	for _, o := range in {
		n, err := gatehouse.NormalizeOrigin(strings.TrimSpace(o))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// RotateClientSecret gives a confidential app a new secret, returned once.
// The old secret keeps working for grace (0 = not at all, at most
// MaxSecretGrace), so a deployment can switch without downtime.
func (s *Service) RotateClientSecret(ctx context.Context, a Actor, clientID string, grace time.Duration) (*gatehouse.Client, string, error) {
	c, err := s.Client(ctx, a, clientID)
	if err != nil {
		return nil, "", err
	}
	if !c.Confidential {
		return nil, "", gatehouse.Errorf(gatehouse.ECONFLICT, "a public client has no secret").WithID("error.public_no_secret")
	}
	if grace < 0 || grace > MaxSecretGrace {
		return nil, "", gatehouse.FieldError("grace_period", "the grace period must be between 0 and %s", MaxSecretGrace).WithID("error.grace_period")
	}
	sec := secret.RandomString(clientSecretLen, secret.Alphabet62)
	c.PrevSecretHash, c.PrevSecretExpiresAt = nil, nil
	if grace > 0 {
		until := s.Now().Add(grace)
		c.PrevSecretHash, c.PrevSecretExpiresAt = c.SecretHash, &until
	}
	c.SecretHash, c.SecretHint = secret.HashBytes(sec), sec[:4]+"…"
	ctx = s.auditedOn(ctx, a, "oauth_client.rotate_secret", func() auditTarget {
		return auditTarget{Summary: fmt.Sprintf("%s grace=%s", c.ID, grace), ID: c.ID, Name: c.Name, Details: map[string]string{"grace": grace.String()}}
	})
	if err := s.store.UpdateClientSecret(ctx, c); err != nil {
		return nil, "", fmt.Errorf("rotate client secret: %w", err)
	}
	return c, sec, nil
}

// ConnectedApp is an app the actor's user has allowed, for the console's
// Connected apps page.
type ConnectedApp struct {
	Consent *gatehouse.Consent
	Client  *gatehouse.Client // nil if the app has since been deleted
}

// ConnectedApps lists the apps the actor's user has allowed in the tenant.
// Every member may see and revoke their own.
func (s *Service) ConnectedApps(ctx context.Context, a Actor) ([]ConnectedApp, error) {
	if a.UserID == "" {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "connected apps belong to a user").WithID("error.connected_apps.user")
	}
	consents, err := s.store.ListConsents(ctx, a.TenantID, a.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]ConnectedApp, 0, len(consents))
	for _, c := range consents {
		app := ConnectedApp{Consent: c}
		if cl, err := s.store.FindClient(ctx, c.ClientID); err == nil {
			app.Client = cl
		} else if !gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
			return nil, err
		}
		out = append(out, app)
	}
	return out, nil
}

// DisconnectApp forgets the user's consent for an app and revokes every
// token the app holds for the user, at once.
func (s *Service) DisconnectApp(ctx context.Context, a Actor, clientID string) error {
	if a.UserID == "" {
		return gatehouse.Errorf(gatehouse.EFORBIDDEN, "connected apps belong to a user").WithID("error.connected_apps.user")
	}
	name := "" // the app's name as it is now, for the log
	if cl, err := s.store.FindClient(ctx, clientID); err == nil && cl.TenantID == a.TenantID {
		name = cl.Name
	}
	return s.store.DeleteConsent(s.auditedOn(ctx, a, "oauth_consent.revoke", on(clientID, name, clientID)), a.TenantID, a.UserID, clientID, s.Now())
}
