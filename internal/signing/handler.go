package signing

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// JWKSHandler serves GET /oauth2/jwks: the published public keys as a JSON
// Web Key Set (RFC 7517 §5), the document discovery's jwks_uri names
// (OpenID Connect Discovery §3). Its max-age is short against the
// pre-publication period, so a client that honours it has a new key
// before the key signs (OpenID Connect Core §10.1.1).
//
// Who controls the input: nobody — the request carries nothing the
// handler reads but its method. The answer holds only public keys.
func (s *Signer) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		set, err := s.JWKS(r.Context())
		if err != nil {
			s.cfg.Log.ErrorContext(r.Context(), "jwks", "err", err)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "key set unavailable", http.StatusServiceUnavailable)
			return
		}
		body, err := json.Marshal(set)
		if err != nil {
			s.cfg.Log.ErrorContext(r.Context(), "jwks", "err", err)
			http.Error(w, "key set unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(s.JWKSMaxAge().Seconds())))
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body)
	})
}
