package admin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// DefaultHandshakeExpiry is Magento's consumer-key expiration period: the
// consumer must start the token exchange within it after the activation
// POST ("Consumer key has expired" otherwise).
const DefaultHandshakeExpiry = 300 * time.Second

// Deliverer POSTs an activation's form to a callback URL and returns the
// response status (0 when none came). The oauth1 package provides the real
// one: 5 s timeout, no redirects, https unless allowed otherwise.
type Deliverer func(ctx context.Context, callbackURL string, form url.Values) (status int, err error)

// IntegrationInput is the Add/Edit Integration form (seed 000):
// Integration Info and API.
type IntegrationInput struct {
	Name            string
	Email           string
	CallbackURL     string
	IdentityLinkURL string
	AllResources    bool     // Resource Access: All
	Resources       []string // Resource Access: Custom
}

// ConfirmPassword checks the actor's own password, as the console asks on
// every integration save ("Your Password"). A wrong one is EINVALID on the
// field "password", so the form shows it, and changes nothing.
// Failures count against the same throttle as logins, per user.
func (s *Service) ConfirmPassword(ctx context.Context, a Actor, password string) error {
	keys := []string{"confirm:" + a.UserID}
	now := s.now()
	if wait := s.throttle.blocked(keys, now); wait > 0 {
		return gatehouse.Errorf(gatehouse.ETOOMANY, "too many wrong passwords; try again in %d minutes", int(wait.Minutes())+1)
	}
	u, err := s.store.FindUserByID(ctx, a.UserID)
	if err != nil {
		return err
	}
	if u.PasswordHash == "" || !secret.CheckPassword(u.PasswordHash, password) {
		s.throttle.fail(keys, now)
		return gatehouse.FieldError("password", "your password is incorrect")
	}
	s.throttle.reset(keys[0])
	return nil
}

// ConsumerSecretAAD binds a sealed consumer secret to its consumer key, so a
// sealed value cannot be moved to another row.
func ConsumerSecretAAD(consumerKey string) []byte { return []byte("oauth1-consumer:" + consumerKey) }

// TokenSecretAAD is the AAD of a token secret: the token's hash.
func TokenSecretAAD(tokenHash []byte) []byte {
	return append([]byte("oauth1-token:"), tokenHash...)
}

// NewOAuth1Value returns a fresh Magento-compatible value: 32 characters of
// [a-z0-9] from crypto/rand (≈165 bits).
func NewOAuth1Value() string {
	return secret.RandomString(gatehouse.OAuth1ValueLen, gatehouse.OAuth1Alphabet)
}

func (s *Service) integrationFrom(in IntegrationInput, i *gatehouse.Integration) error {
	i.Name = strings.TrimSpace(in.Name)
	i.Email = strings.TrimSpace(in.Email)
	if i.Email != "" {
		e, err := gatehouse.NormalizeEmail(i.Email)
		if err != nil {
			return err
		}
		i.Email = e
	}
	i.CallbackURL = strings.TrimSpace(in.CallbackURL)
	i.IdentityLinkURL = strings.TrimSpace(in.IdentityLinkURL)
	i.AllResources = in.AllResources
	i.Resources = nil
	if !in.AllResources {
		if len(in.Resources) == 0 {
			return gatehouse.FieldError("resources", "choose at least one resource, or Resource Access: All")
		}
		scopes, err := s.tree.NormalizeScopes(in.Resources)
		if err != nil {
			// The tree names its field "scopes"; an integration's is
			// "resources" in the console's form and the API alike.
			var ge *gatehouse.Error
			if errors.As(err, &ge) && ge.Field == "scopes" {
				renamed := *ge
				renamed.Field = "resources"
				return &renamed
			}
			return err
		}
		for _, sc := range scopes {
			if sc == gatehouse.ScopeManage || sc == gatehouse.ScopeVerify || sc == gatehouse.ScopeAll {
				return gatehouse.FieldError("resources", "%q is not an API resource", sc)
			}
		}
		i.Resources = scopes
	}
	return i.Validate()
}

// CreateIntegration saves a new integration as Inactive, with its consumer
// key and (sealed) consumer secret, as Magento creates the consumer on save.
// The console confirms the actor's password first (ConfirmPassword); over
// the API the token is the proof.
func (s *Service) CreateIntegration(ctx context.Context, a Actor, in IntegrationInput) (*gatehouse.Integration, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	if s.keys == nil {
		return nil, errors.New("admin: integrations need a keyring")
	}
	i := &gatehouse.Integration{TenantID: a.TenantID, Status: gatehouse.IntegrationInactive}
	if err := s.integrationFrom(in, i); err != nil {
		return nil, err
	}
	i.ConsumerKey = NewOAuth1Value()
	i.ConsumerSecret = s.keys.Seal([]byte(NewOAuth1Value()), ConsumerSecretAAD(i.ConsumerKey))
	if err := s.store.CreateIntegration(ctx, i); err != nil {
		return nil, fmt.Errorf("create integration: %w", err)
	}
	return i, s.audit(ctx, a, "integration.create", i.ID+" "+i.Name)
}

// Integrations lists the tenant's integrations (the grid).
func (s *Service) Integrations(ctx context.Context, a Actor) ([]*gatehouse.Integration, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	return s.store.ListIntegrations(ctx, a.TenantID)
}

// Integration returns one integration of the tenant.
func (s *Service) Integration(ctx context.Context, a Actor, id string) (*gatehouse.Integration, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	return s.store.FindIntegration(ctx, a.TenantID, id)
}

// UpdateIntegration saves the Edit Integration form. Changed resources
// apply to the live token at once.
func (s *Service) UpdateIntegration(ctx context.Context, a Actor, id string, in IntegrationInput) (*gatehouse.Integration, error) {
	i, err := s.Integration(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if err := s.integrationFrom(in, i); err != nil {
		return nil, err
	}
	if err := s.store.UpdateIntegration(ctx, i); err != nil {
		return nil, fmt.Errorf("update integration: %w", err)
	}
	return i, s.audit(ctx, a, "integration.update", i.ID+" "+i.Name)
}

// DeleteIntegration deletes an integration; its tokens stop working at once.
func (s *Service) DeleteIntegration(ctx context.Context, a Actor, id string) error {
	i, err := s.Integration(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteIntegration(ctx, a.TenantID, id, s.Now()); err != nil {
		return fmt.Errorf("delete integration: %w", err)
	}
	return s.audit(ctx, a, "integration.delete", i.ID+" "+i.Name)
}

// Activation is what Activate or Reauthorize produced.
type Activation struct {
	Integration *gatehouse.Integration
	// Without a callback URL: the four values, shown once.
	ConsumerKey       string
	ConsumerSecret    string
	AccessToken       string
	AccessTokenSecret string
	// With a callback URL: the delivery of the credentials, and the
	// identity link URL to open (with oauth_consumer_key and
	// success_call_back) once the delivery was accepted.
	Delivery        *gatehouse.Delivery
	IdentityLinkURL string
}

// Delivered reports whether the callback accepted the activation POST.
func (act *Activation) Delivered() bool { return act.Delivery != nil && act.Delivery.Error == "" }

// ActivateIntegration is Activate › Allow (seed 000). Without a callback
// URL the access token is generated at once. With one, the consumer key and
// secret, store_base_url and a fresh oauth_verifier are POSTed to it, and
// the integration is Pending until the consumer exchanges the verifier
// (within the handshake expiry). A failed delivery is recorded and returned
// in Activation.Delivery; it can be retried by activating again.
func (s *Service) ActivateIntegration(ctx context.Context, a Actor, id string) (*Activation, error) {
	i, err := s.Integration(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if i.Status == gatehouse.IntegrationActive {
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "the integration is already active; reauthorize it to get new tokens")
	}
	if err := s.audit(ctx, a, "integration.activate", i.ID+" "+i.Name); err != nil {
		return nil, err
	}
	return s.startHandshake(ctx, a, i)
}

// ReauthorizeIntegration is Reauthorize (seed 000): the old access token
// stops working at once, then the integration goes through activation again.
func (s *Service) ReauthorizeIntegration(ctx context.Context, a Actor, id string) (*Activation, error) {
	i, err := s.Integration(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if i.Status == gatehouse.IntegrationInactive {
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "the integration is not active; activate it instead")
	}
	if err := s.store.RevokeIntegrationTokens(ctx, a.TenantID, i.ID, s.Now()); err != nil {
		return nil, fmt.Errorf("revoke integration tokens: %w", err)
	}
	// Without a token it is no longer active: should the callback fail, the
	// grid offers Activate (a fresh handshake) rather than a dead "Active".
	i.Status, i.VerifierHash = gatehouse.IntegrationInactive, nil
	if err := s.store.UpdateIntegration(ctx, i); err != nil {
		return nil, fmt.Errorf("reauthorize integration: %w", err)
	}
	if err := s.audit(ctx, a, "integration.reauthorize", i.ID+" "+i.Name); err != nil {
		return nil, err
	}
	return s.startHandshake(ctx, a, i)
}

func (s *Service) startHandshake(ctx context.Context, a Actor, i *gatehouse.Integration) (*Activation, error) {
	consumerSecret, err := s.keys.Open(i.ConsumerSecret, ConsumerSecretAAD(i.ConsumerKey))
	if err != nil {
		return nil, fmt.Errorf("open consumer secret: %w", err)
	}
	if i.CallbackURL == "" {
		tok, sec, err := s.IssueIntegrationAccess(ctx, i, a.Name, a.IP)
		if err != nil {
			return nil, err
		}
		return &Activation{Integration: i, ConsumerKey: i.ConsumerKey, ConsumerSecret: string(consumerSecret),
			AccessToken: tok, AccessTokenSecret: sec}, nil
	}
	if s.deliver == nil {
		return nil, errors.New("admin: no callback deliverer configured")
	}
	verifier := NewOAuth1Value()
	form := url.Values{
		"oauth_consumer_key":    {i.ConsumerKey},
		"oauth_consumer_secret": {string(consumerSecret)},
		"store_base_url":        {s.publicURL + "/"},
		"oauth_verifier":        {verifier},
	}
	start := s.now()
	status, derr := s.deliver(ctx, i.CallbackURL, form)
	d := &gatehouse.Delivery{TenantID: i.TenantID, IntegrationID: i.ID, Time: start.UTC(), URL: i.CallbackURL,
		Status: status, Duration: s.now().Sub(start)}
	switch {
	case derr != nil:
		d.Error = derr.Error()
	case status < 200 || status > 299:
		d.Error = fmt.Sprintf("the callback answered %d", status)
	}
	if err := s.store.AddDelivery(ctx, d); err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	act := &Activation{Integration: i, Delivery: d}
	if !act.Delivered() {
		return act, nil
	}
	now := s.Now()
	i.VerifierHash, i.HandshakeAt, i.Status = secret.HashBytes(verifier), &now, gatehouse.IntegrationPending
	if err := s.store.UpdateIntegration(ctx, i); err != nil {
		return nil, fmt.Errorf("start handshake: %w", err)
	}
	if i.IdentityLinkURL != "" {
		act.IdentityLinkURL = withQuery(i.IdentityLinkURL, url.Values{
			"oauth_consumer_key": {i.ConsumerKey},
			"success_call_back":  {s.publicURL + "/console/integrations/" + i.ID},
		})
	}
	return act, nil
}

// IssueIntegrationAccess generates the integration's access token and
// secret (the old ones stop working), marks it Active, notifies the
// tenant's console and audits it. The oauth1 provider calls it at the end
// of the token exchange; activation without a callback calls it at once.
func (s *Service) IssueIntegrationAccess(ctx context.Context, i *gatehouse.Integration, actor, ip string) (token, tokenSecret string, err error) {
	token, tokenSecret = NewOAuth1Value(), NewOAuth1Value()
	hash := secret.HashBytes(token)
	c := &gatehouse.Credential{
		TenantID: i.TenantID,
		Kind:     gatehouse.KindIntegration,
		Name:     i.Name,
		Hash:     hash,
		Hint:     token[:4] + "…",
		ClientID: i.ID, // Scopes: the store's, read from the locked integration row
		Secret:   s.keys.Seal([]byte(tokenSecret), TokenSecretAAD(hash)),
	}
	if err := s.store.IssueIntegrationToken(ctx, i.TenantID, i.ID, c, s.Now()); err != nil {
		return "", "", fmt.Errorf("issue integration token: %w", err)
	}
	i.Status, i.VerifierHash = gatehouse.IntegrationActive, nil
	n := &gatehouse.Notification{TenantID: i.TenantID, Message: fmt.Sprintf("Integration %q has been authorized.", i.Name),
		Link: "/console/integrations/" + i.ID}
	if err := s.store.AddNotification(ctx, n); err != nil {
		s.log.WarnContext(ctx, "add notification", "err", err)
	}
	a := Actor{TenantID: i.TenantID, Name: actor, IP: ip}
	return token, tokenSecret, s.audit(ctx, a, "integration.authorized", i.ID+" "+i.Name)
}

// Deliveries lists the integration's latest callback deliveries.
func (s *Service) Deliveries(ctx context.Context, a Actor, id string) ([]*gatehouse.Delivery, error) {
	if _, err := s.Integration(ctx, a, id); err != nil {
		return nil, err
	}
	return s.store.ListDeliveries(ctx, a.TenantID, id, 20)
}

// Notifications lists the tenant's unread console notifications.
func (s *Service) Notifications(ctx context.Context, a Actor) ([]*gatehouse.Notification, error) {
	if err := requireManager(a); err != nil {
		return nil, err
	}
	return s.store.ListNotifications(ctx, a.TenantID, true, 20)
}

// DismissNotifications marks the tenant's notifications read.
func (s *Service) DismissNotifications(ctx context.Context, a Actor) error {
	if err := requireManager(a); err != nil {
		return err
	}
	return s.store.MarkNotificationsRead(ctx, a.TenantID, s.Now())
}

// HandshakeExpiry is how long after an activation POST the consumer may
// start the token exchange.
func (s *Service) HandshakeExpiry() time.Duration { return s.handshakeExpiry }

// HandshakeDeadline is when i's token exchange window closes; ok is false
// when it is not waiting for one.
func (s *Service) HandshakeDeadline(i *gatehouse.Integration) (deadline time.Time, ok bool) {
	if i.Status != gatehouse.IntegrationPending || i.HandshakeAt == nil {
		return time.Time{}, false
	}
	return i.HandshakeAt.Add(s.handshakeExpiry), true
}

// Keys returns the keyring that seals OAuth 1.0a secrets.
func (s *Service) Keys() *secret.Keyring { return s.keys }

func withQuery(raw string, params url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}
