package admin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
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
// one: 5 s timeout, no redirects, https unless allowed otherwise, public
// addresses unless allowed otherwise (CallbackPolicy). Its error text is
// stored and shown to the tenant: a fixed message, never a network error.
type Deliverer func(ctx context.Context, callbackURL string, form url.Values) (status int, err error)

// CallbackPolicy says which hosts an integration's callback URL (which
// Gatehouse dials, POSTing the consumer secret) and identity link URL
// (which the admin's browser opens) may name.
//
// Security: a tenant admin chooses these URLs, and the callback is dialled
// from inside the operator's network, with the consumer secret in its
// body, so by default both must be https (CheckScheme) and name a public
// host: loopback, private (RFC 1918, fc00::/7), link-local (the
// 169.254.169.254 metadata service among them), unspecified, shared and
// reserved addresses are refused, as are names that only resolve inside a
// network (localhost, single-label names, *.internal such as
// metadata.google.internal, *.local, *.home.arpa) and numeric forms of IPv4
// other than the dotted quad. CheckURL refuses them when saving; the
// deliverer refuses them again when dialling, after DNS resolution, by the
// address actually dialled (PublicAddr), so a public-looking name that
// resolves to a private address is refused too.
type CallbackPolicy struct {
	// AllowHTTP (GATEHOUSE_ALLOW_HTTP_CALLBACKS, development) also allows
	// http:// URLs to loopback hosts: the operator asked for exactly that.
	AllowHTTP bool
	// AllowPrivate (GATEHOUSE_ALLOW_PRIVATE_CALLBACKS) allows every host.
	AllowPrivate bool
}

// TargetError refuses a URL whose host is not public (CallbackPolicy); it
// is an EINVALID field error, so the API answers 422 naming the field.
type TargetError struct{ Err *gatehouse.Error }

func (e *TargetError) Error() string { return e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// urlLabels are the URL fields as the form labels them, for messages in
// the admin's words (never the field's JSON name or an operator setting).
var urlLabels = map[string]string{"callback_url": "callback URL", "identity_link_url": "identity link URL"}

func urlLabel(field string) string {
	if l, ok := urlLabels[field]; ok {
		return l
	}
	return field
}

// CheckScheme refuses a URL that is not https: http is allowed only with
// AllowHTTP and only to a loopback host. Saving an integration
// (CheckURL) and delivering its credentials (the oauth1 deliverer) both
// apply it, so an integration saved is never refused at Activate for its
// scheme. The refusal is EINVALID on field (callback_url or
// identity_link_url) with a message id.
func (p CallbackPolicy) CheckScheme(field string, u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if p.AllowHTTP && LoopbackHost(u.Hostname()) {
			return nil
		}
	}
	if field == "identity_link_url" {
		return gatehouse.FieldError(field, "the %s must start with https://", urlLabel(field)).WithID("error.identity_link_url.https")
	}
	return gatehouse.FieldError(field, "the %s must start with https://", urlLabel(field)).WithID("error.callback_url.https")
}

// LoopbackHost reports whether a URL's host (url.URL.Hostname) names this
// machine: localhost and its subdomains, or a loopback address.
func LoopbackHost(h string) bool {
	host := strings.TrimSuffix(strings.ToLower(h), ".")
	a, isIP := parseHostAddr(host)
	return isLoopbackName(host) || (isIP && a.IsLoopback())
}

// CheckURL checks the scheme (CheckScheme) and the host of a callback or
// identity link URL that Integration.Validate has accepted (absolute,
// http or https). field names it in the error.
func (p CallbackPolicy) CheckURL(field, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return gatehouse.FieldError(field, "the %s must be an absolute https:// URL", urlLabel(field)).WithID("integration.error.url")
	}
	if err := p.CheckScheme(field, u); err != nil {
		return err
	}
	if p.AllowPrivate {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	a, isIP := parseHostAddr(host)
	loopback := LoopbackHost(host)
	if p.AllowHTTP && u.Scheme == "http" && loopback {
		return nil
	}
	public := !loopback
	switch {
	case isIP:
		public = public && PublicAddr(a)
	case host == "" || !strings.Contains(host, "."):
		public = false // single-label names resolve through search domains
	default:
		last := host[strings.LastIndexByte(host, '.')+1:]
		for _, suffix := range []string{"internal", "local", "localdomain"} {
			public = public && last != suffix
		}
		public = public && !strings.HasSuffix(host, ".home.arpa") && !numericLabel(last)
	}
	if !public {
		return &TargetError{gatehouse.FieldError(field, "the %s must name a public host, not a loopback, private, link-local or internal one", urlLabel(field)).
			WithID("integration.error.url_private")}
	}
	return nil
}

// parseHostAddr parses an IP literal host (IPv6 without brackets, as
// url.URL.Hostname gives it; a zone makes it link-local anyway).
func parseHostAddr(host string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isLoopbackName(h string) bool {
	return h == "localhost" || strings.HasSuffix(h, ".localhost") || h == "localhost.localdomain"
}

// numericLabel reports whether a last label is a number (decimal, or hex
// with 0x): never a DNS top-level domain, but resolvers read "2130706433",
// "0x7f.1" or "127.1" as IPv4 addresses.
func numericLabel(l string) bool {
	if len(l) > 2 && (l[:2] == "0x") {
		l = l[2:]
	}
	if l == "" {
		return false
	}
	for _, c := range l {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	// "cafe" or "beef" are names; a label of only hex letters is a number
	// only with the 0x prefix, or when it has a digit.
	return strings.ContainsAny(l, "0123456789")
}

// nonPublic are ranges IsGlobalUnicast and IsPrivate leave out.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network" (RFC 791); 0.0.0.0 reaches the host itself
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments (RFC 6890)
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking (RFC 2544)
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved (RFC 1112)
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated, RFC 4291)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated, RFC 3879)
	netip.MustParsePrefix("2001:db8::/32"),  // documentation (RFC 3849)
	netip.MustParsePrefix("100::/64"),       // discard-only (RFC 6666)
}

// PublicAddr reports whether a is a public unicast address a callback may
// reach: not loopback, private (RFC 1918, fc00::/7), link-local,
// multicast, unspecified, nor a shared or reserved range; an IPv4 address
// inside IPv6 (mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged as
// the IPv4 address it carries.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(a):
			return PublicAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case netip.MustParsePrefix("2002::/16").Contains(a):
			return PublicAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

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
// field "password", so the form shows it, and changes nothing. Wrong ones
// are counted per user in the store, like logins (loginThrottle), and the
// password hash runs in one of the node's hash slots (passwordMatches).
// Past the limit it is ETOOMANY on "password" with a RetryAfter.
func (s *Service) ConfirmPassword(ctx context.Context, a Actor, password string) error {
	// Security: the attempt is reserved before the hash is computed, so N
	// concurrent wrong passwords on any number of nodes evaluate at most
	// the limit, and a refused one costs no argon2id hash.
	att, wait, err := s.logins.reserveConfirm(ctx, a.UserID, s.now())
	if err != nil {
		return err
	}
	if wait > 0 {
		e := gatehouse.Errorf(gatehouse.ETOOMANY,
			"too many wrong passwords; try again in %d minutes", int(math.Ceil(wait.Minutes())))
		e.Field, e.RetryAfter = "password", wait
		return e
	}
	u, err := s.store.FindUserByID(ctx, a.UserID)
	if err != nil {
		s.logins.cancel(ctx, att)
		return err
	}
	ok, err := s.passwordMatches(ctx, u.PasswordHash, password)
	if err != nil {
		s.logins.cancel(ctx, att)
		return err
	}
	if !ok {
		return gatehouse.FieldError("password", "your password is incorrect").WithID("reconfirm.error.password")
	}
	return s.logins.confirmed(ctx, att)
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
			return gatehouse.FieldError("resources", "choose at least one resource, or Resource Access: All").WithID("integration.error.resources")
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
				return gatehouse.FieldError("resources", "%q is not an API resource", sc).WithID("error.scope.not_api", "Scope", sc)
			}
		}
		i.Resources = scopes
	}
	if err := i.Validate(); err != nil {
		return err
	}
	// Security: see CallbackPolicy. The identity link is opened by the
	// admin's browser, not dialled, but it is refused the same way: it
	// would point the admin's browser into their own network.
	if err := s.callbacks.CheckURL("callback_url", i.CallbackURL); err != nil {
		return err
	}
	return s.callbacks.CheckURL("identity_link_url", i.IdentityLinkURL)
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
	i.ConsumerKey = secret.NewOAuth1Value()
	i.ConsumerSecret = s.keys.Seal([]byte(secret.NewOAuth1Value()), secret.ConsumerSecretAAD(i.ConsumerKey))
	if err := s.store.CreateIntegration(s.auditedOn(ctx, a, "integration.create", func() auditTarget { return auditTarget{Summary: i.ID + " " + i.Name, ID: i.ID, Name: i.Name} }), i); err != nil {
		return nil, fmt.Errorf("create integration: %w", err)
	}
	return i, nil
}

// Integrations lists a page of the tenant's integrations (the grid) that
// f selects, newest first.
func (s *Service) Integrations(ctx context.Context, a Actor, f gatehouse.ListFilter) (gatehouse.Page[*gatehouse.Integration], error) {
	if err := requireManager(a); err != nil {
		return gatehouse.Page[*gatehouse.Integration]{}, err
	}
	if err := gatehouse.CheckQuery(f.Query); err != nil {
		return gatehouse.Page[*gatehouse.Integration]{}, err
	}
	q := pageQuery(f.Page)
	f.Page = q.Plus1()
	list, err := s.store.ListIntegrations(ctx, a.TenantID, f)
	return gatehouse.PageOf(list, q, (*gatehouse.Integration).At), err
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
	if err := s.store.UpdateIntegration(s.auditedOn(ctx, a, "integration.update", on(i.ID, i.Name, i.ID+" "+i.Name)), i); err != nil {
		return nil, fmt.Errorf("update integration: %w", err)
	}
	return i, nil
}

// DeleteIntegration deletes an integration; its tokens stop working at once.
func (s *Service) DeleteIntegration(ctx context.Context, a Actor, id string) error {
	i, err := s.Integration(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteIntegration(s.auditedOn(ctx, a, "integration.delete", on(i.ID, i.Name, i.ID+" "+i.Name)), a.TenantID, id, s.Now()); err != nil {
		return fmt.Errorf("delete integration: %w", err)
	}
	return nil
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
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "the integration is already active; reauthorize it to get new tokens").WithID("error.integration_active")
	}
	if err := s.audit(ctx, s.eventOn(a, actionActivate, auditTarget{Summary: i.ID + " " + i.Name, ID: i.ID, Name: i.Name})); err != nil {
		return nil, err
	}
	return s.startHandshake(ctx, a, i, false)
}

// ReauthorizeIntegration is Reauthorize (seed 000): the old access token
// stops working at once, then the integration goes through activation again.
func (s *Service) ReauthorizeIntegration(ctx context.Context, a Actor, id string) (*Activation, error) {
	i, err := s.Integration(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if i.Status == gatehouse.IntegrationInactive {
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "the integration is not active; activate it instead").WithID("error.integration_inactive")
	}
	// One store call revokes the token and leaves the integration
	// inactive: should the callback fail, the grid offers Activate (a
	// fresh handshake) rather than a dead "Active". Audited in the same
	// transaction.
	if err := s.store.DeactivateIntegration(s.auditedOn(ctx, a, actionReauthorize, on(i.ID, i.Name, i.ID+" "+i.Name)), a.TenantID, i.ID, s.Now()); err != nil {
		return nil, fmt.Errorf("reauthorize integration: %w", err)
	}
	i.Status, i.VerifierHash = gatehouse.IntegrationInactive, nil
	return s.startHandshake(ctx, a, i, true)
}

// The audit actions that start a handshake; the latest of them says
// whether the access token it ends with is a reauthorization's
// (reauthorizing).
const (
	actionActivate    = "integration.activate"
	actionReauthorize = "integration.reauthorize"
)

// startHandshake activates i (reauthorize: for Reauthorize): at once
// without a callback URL, else by POSTing the consumer credentials.
func (s *Service) startHandshake(ctx context.Context, a Actor, i *gatehouse.Integration, reauthorize bool) (*Activation, error) {
	consumerSecret, err := s.keys.Open(i.ConsumerSecret, secret.ConsumerSecretAAD(i.ConsumerKey))
	if err != nil {
		return nil, fmt.Errorf("open consumer secret: %w", err)
	}
	if i.CallbackURL == "" {
		tok, sec, err := s.issueAccess(ctx, i, a.Name, a.IP, reauthorize)
		if err != nil {
			return nil, err
		}
		return &Activation{Integration: i, ConsumerKey: i.ConsumerKey, ConsumerSecret: string(consumerSecret),
			AccessToken: tok, AccessTokenSecret: sec}, nil
	}
	if s.deliver == nil {
		return nil, errors.New("admin: no callback deliverer configured")
	}
	verifier := secret.NewOAuth1Value()
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
// of the token exchange (activation without a callback issues at once).
// The notification says "reauthorized" when Reauthorize started the
// handshake, "authorized" when Activate did.
func (s *Service) IssueIntegrationAccess(ctx context.Context, i *gatehouse.Integration, actor, ip string) (token, tokenSecret string, err error) {
	return s.issueAccess(ctx, i, actor, ip, s.reauthorizing(ctx, i))
}

// reauthorizing reports whether the handshake i is in was started by
// Reauthorize rather than Activate: which of the two the audit log
// records last for i. Both are audited before their handshake starts, and
// the exchange must follow within the handshake expiry, so the event is
// there; should the log not answer, the notification says "authorized",
// which is true either way.
func (s *Service) reauthorizing(ctx context.Context, i *gatehouse.Integration) bool {
	page, err := s.store.ListAudit(ctx, i.TenantID, gatehouse.AuditQuery{
		AuditFilter: gatehouse.AuditFilter{Action: "integration.*", Target: i.ID}, Limit: 20})
	if err != nil {
		s.log.WarnContext(ctx, "read integration audit", "err", err)
		return false
	}
	for _, e := range page.Events {
		if e.TargetID == i.ID && (e.Action == actionActivate || e.Action == actionReauthorize) {
			return e.Action == actionReauthorize
		}
	}
	return false
}

// issueAccess is IssueIntegrationAccess, told whether it ends a
// reauthorization.
func (s *Service) issueAccess(ctx context.Context, i *gatehouse.Integration, actor, ip string, reauthorized bool) (token, tokenSecret string, err error) {
	token, tokenSecret = secret.NewOAuth1Value(), secret.NewOAuth1Value()
	hash := secret.HashBytes(token)
	c := &gatehouse.Credential{
		TenantID: i.TenantID,
		Kind:     gatehouse.KindIntegration,
		Name:     i.Name,
		Hash:     hash,
		Hint:     token[:4] + "…",
		ClientID: i.ID, // Scopes: the store's, read from the locked integration row
		Secret:   s.keys.Seal([]byte(tokenSecret), secret.TokenSecretAAD(hash)),
	}
	a := Actor{TenantID: i.TenantID, Name: actor, IP: ip}
	// Activation is one store call: the old tokens revoked, the new one
	// stored, the integration marked active and the event audited, in one
	// transaction.
	if err := s.store.IssueIntegrationToken(s.auditedOn(ctx, a, "integration.authorized", on(i.ID, i.Name, i.ID+" "+i.Name)), i.TenantID, i.ID, c, s.Now()); err != nil {
		return "", "", fmt.Errorf("issue integration token: %w", err)
	}
	i.Status, i.VerifierHash = gatehouse.IntegrationActive, nil
	n := &gatehouse.Notification{TenantID: i.TenantID, Link: "/console/integrations/" + i.ID,
		MessageID: gatehouse.NoticeIntegrationAuthorized, Args: map[string]string{"Name": i.Name},
		Message: fmt.Sprintf("Integration %q has been authorized.", i.Name)}
	if reauthorized {
		n.MessageID = gatehouse.NoticeIntegrationReauthorized
		n.Message = fmt.Sprintf("Integration %q has been reauthorized; its previous access token no longer works.", i.Name)
	}
	if err := s.store.AddNotification(ctx, n); err != nil {
		s.log.WarnContext(ctx, "add notification", "err", err)
	}
	return token, tokenSecret, nil
}

// Deliveries lists a page of the integration's callback deliveries,
// newest first.
func (s *Service) Deliveries(ctx context.Context, a Actor, id string, q gatehouse.PageQuery) (gatehouse.Page[*gatehouse.Delivery], error) {
	if _, err := s.Integration(ctx, a, id); err != nil {
		return gatehouse.Page[*gatehouse.Delivery]{}, err
	}
	q = pageQuery(q)
	list, err := s.store.ListDeliveries(ctx, a.TenantID, id, q.Plus1())
	return gatehouse.PageOf(list, q, (*gatehouse.Delivery).At), err
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
