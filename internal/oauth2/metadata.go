package oauth2

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// Metadata is the authorization server metadata document (RFC 8414 §2).
type Metadata struct {
	Issuer                                 string   `json:"issuer"`
	AuthorizationEndpoint                  string   `json:"authorization_endpoint"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                  string   `json:"introspection_endpoint"`
	ScopesSupported                        []string `json:"scopes_supported"`
	ResponseTypesSupported                 []string `json:"response_types_supported"`
	ResponseModesSupported                 []string `json:"response_modes_supported"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported"`
	// Bearer tokens holding the "verify" resource are accepted too; RFC
	// 8414 has no registered name for that method, so it is not listed.
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported             []string `json:"code_challenge_methods_supported"`
	// RFC 9207: authorization responses carry iss.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
	// RFC 8414 §2: the issuer's signing keys (RFC 7517 JWKS), present
	// when the provider has them (Config.SigningAlgs).
	JWKSURI string `json:"jwks_uri,omitempty"`
	// RFC 8628 §4.
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
}

// Metadata returns the provider's RFC 8414 document. The issuer is the
// public URL exactly, and every endpoint hangs off it.
func (p *Provider) Metadata() Metadata {
	scopes := append(p.tree.IDs(), gatehouse.ScopeAll, gatehouse.ScopeVerify, gatehouse.ScopeManage)
	m := Metadata{
		Issuer:                                    p.issuer,
		AuthorizationEndpoint:                     p.issuer + "/oauth2/authorize",
		TokenEndpoint:                             p.issuer + "/oauth2/token",
		RevocationEndpoint:                        p.issuer + "/oauth2/revoke",
		IntrospectionEndpoint:                     p.issuer + "/oauth2/introspect",
		ScopesSupported:                           scopes,
		ResponseTypesSupported:                    []string{"code"},
		ResponseModesSupported:                    []string{"query"},
		GrantTypesSupported:                       []string{gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken, gatehouse.GrantClientCredentials, gatehouse.GrantDeviceCode},
		TokenEndpointAuthMethodsSupported:         []string{"client_secret_basic", "client_secret_post", "none"},
		RevocationEndpointAuthMethodsSupported:    []string{"client_secret_basic", "client_secret_post", "none"},
		IntrospectionEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		// Security: S256 only; "plain" offers no protection against a
		// leaked authorization request (RFC 9700 §2.1.1).
		CodeChallengeMethodsSupported:              []string{"S256"},
		AuthorizationResponseIssParameterSupported: true,
		DeviceAuthorizationEndpoint:                p.issuer + "/oauth2/device",
	}
	if p.signingAlgs != nil {
		m.JWKSURI = p.issuer + "/oauth2/jwks"
	}
	return m
}

// MetadataHandler serves GET /.well-known/oauth-authorization-server
// (RFC 8414 §3). The document changes only with the configuration, so
// caches may keep it for a while.
func (p *Provider) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		writeJSON(w, http.StatusOK, p.Metadata())
	})
}
