package gatehouse

// Kind is the kind of a credential (SPEC §2). One model carries them all;
// what differs between kinds is data, in the table below.
type Kind string

// The credential kinds.
const (
	KindPAT           Kind = "pat"            // personal access token (seed 002)
	KindStaff         Kind = "staff"          // staff API token with IP whitelist (seed 001)
	KindAPIKey        Kind = "apikey"         // API Portal key (seed 003)
	KindOAuth2Access  Kind = "oauth2"         // OAuth 2.0 access token (seed 002)
	KindOAuth2Refresh Kind = "oauth2_refresh" // OAuth 2.0 refresh token
	KindIntegration   Kind = "integration"    // OAuth 1.0a access token (seed 000)
)

// KindGuest is the Principal kind of an anonymous call to a guest route
// that the tenant's allow_anonymous_guest_access setting permits (SPEC §4).
// It is not a credential kind: no credential has it, and it is not in the
// table of kinds.
const KindGuest Kind = "guest"

// Holder says whom a credential of a kind belongs to, and so who may
// create it and whom it speaks for.
type Holder string

// The holders.
const (
	// HolderSelf: the user who creates it, for themselves (a PAT).
	HolderSelf Holder = "self"
	// HolderMember: a member of the tenant that an admin names (a staff
	// API token). A member holds at most one that is not deleted, expired
	// or not (seed 001: delete it and generate a new one).
	HolderMember Holder = "member"
	// HolderTenant: the tenant itself, not the admin who made it, so it
	// survives that person leaving (an API key).
	HolderTenant Holder = "tenant"
	// HolderClient: an OAuth 2.0 client acting for a user's grant; issued
	// only by the OAuth 2.0 provider.
	HolderClient Holder = "oauth_client"
	// HolderIntegration: an OAuth 1.0a integration; issued only by its
	// activation.
	HolderIntegration Holder = "integration"
)

// KindSpec is everything about a credential kind that is data rather than
// code. Adding a kind is adding a row to the table (and, when it is
// managed through its own pages or rules, those).
type KindSpec struct {
	Kind Kind
	// Prefix is the kind segment of a generated token
	// (gate_<prefix>_<random><checksum>), "" for kinds that use another
	// format (OAuth 1.0a tokens are the integration's own).
	Prefix string
	Holder Holder
	// DefaultScopes are granted when a create names none; nil means the
	// scopes must be named.
	DefaultScopes []string
	// MayManage is whether a credential of the kind may hold the reserved
	// "manage" resource: only a PAT, which acts with its user's role.
	MayManage bool
	// NameField is the input field carrying the credential's name
	// ("name", "description"); "" when the kind has FixedName instead.
	NameField string
	// NameLimit is the most characters (runes) of a name its holder
	// chooses; 0 when the holder does not choose one.
	NameLimit int
	// FixedName is the name every credential of the kind carries, when
	// its holder does not choose one.
	FixedName string
	// Noun is what messages call credentials of the kind (plural,
	// English; the console translates DisplayKey instead).
	Noun string
	// LiveLimit caps the live (neither revoked nor expired) credentials
	// of the kind that one holder keeps — a user for HolderSelf, the
	// tenant for HolderTenant — as a multiple of the per-user token limit
	// the service is configured with; 0 is no cap. Security: a cap bounds
	// what one account can make the store and every list carry.
	LiveLimit int
	// Created, Revoked and Deleted are the audit actions of creating,
	// revoking and deleting one; "" when a credential of the kind is not
	// created, revoked or deleted that way by the management path (other
	// flows, such as the OAuth 2.0 provider, audit their own).
	Created, Revoked, Deleted string
	// DisplayKey is the message id of the kind's name in the console's
	// catalogues.
	DisplayKey string
}

// kinds is the table of credential kinds. Its order is fixed: indexes
// into it (Kind.Index) are stored in caches and arrays.
var kinds = [...]KindSpec{
	{Kind: KindPAT, Prefix: "pat", Holder: HolderSelf, MayManage: true,
		NameField: "name", NameLimit: 100, Noun: "personal access tokens", LiveLimit: 1,
		Created: "pat.create", Revoked: "pat.revoke", DisplayKey: "kind.pat"},
	// Seed 001: a staff token is deleted, with its IP whitelist, not revoked.
	{Kind: KindStaff, Prefix: "stf", Holder: HolderMember, FixedName: "API Auth", Noun: "staff API tokens",
		Created: "staff_token.create", Deleted: "staff_token.delete", DisplayKey: "kind.staff"},
	{Kind: KindAPIKey, Prefix: "key", Holder: HolderTenant, DefaultScopes: []string{ScopeAll},
		NameField: "description", NameLimit: 200, Noun: "API keys", LiveLimit: 10,
		Created: "api_key.create", Revoked: "api_key.revoke", DisplayKey: "kind.apikey"},
	{Kind: KindOAuth2Access, Prefix: "at", Holder: HolderClient, Noun: "OAuth 2.0 access tokens", DisplayKey: "kind.oauth2"},
	{Kind: KindOAuth2Refresh, Prefix: "rt", Holder: HolderClient, Noun: "OAuth 2.0 refresh tokens", DisplayKey: "kind.oauth2_refresh"},
	{Kind: KindIntegration, Holder: HolderIntegration, Noun: "integration access tokens", DisplayKey: "kind.integration"},
}

// Kinds returns the table of credential kinds, in its fixed order. The
// slice is the caller's.
func Kinds() []KindSpec {
	out := make([]KindSpec, len(kinds))
	copy(out, kinds[:])
	return out
}

// NumKinds is the number of credential kinds; Kind.Index is below
// NumKinds+1.
const NumKinds = len(kinds)

// Spec returns the row of k, or false when k is not a credential kind.
func (k Kind) Spec() (KindSpec, bool) {
	if i := k.Index(); i > 0 {
		return kinds[i-1], true
	}
	return KindSpec{}, false
}

// Index is k's position in the table of kinds plus one, or 0 when k is
// not a credential kind (KindGuest, "", a forged value), so it fits a
// byte and 0 can mean "no kind".
func (k Kind) Index() int {
	for i := range kinds {
		if kinds[i].Kind == k {
			return i + 1
		}
	}
	return 0
}

// KindAt is the inverse of Kind.Index: "" for 0 or out of range.
func KindAt(i int) Kind {
	if i < 1 || i > len(kinds) {
		return ""
	}
	return kinds[i-1].Kind
}

// TokenPrefix is the kind segment of a generated token
// (gate_<prefix>_<random><checksum>), or "" for kinds that use another format.
func (k Kind) TokenPrefix() string {
	s, _ := k.Spec()
	return s.Prefix
}

// KindForPrefix is the inverse of Kind.TokenPrefix.
func KindForPrefix(p string) (Kind, bool) {
	if p == "" {
		return "", false
	}
	for i := range kinds {
		if kinds[i].Prefix == p {
			return kinds[i].Kind, true
		}
	}
	return "", false
}
