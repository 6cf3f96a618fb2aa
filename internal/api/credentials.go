package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Credentials: personal access tokens (seed 002) at /api/v1/tokens and
// API keys (seed 003, the API Portal) at /api/v1/api-keys are one set of
// handlers over admin's generic credential path, told apart by kind. A
// request's and a response's fields follow the kind's gatehouse.KindSpec
// row (credentialInput, credentialJSON); staff tokens (staff_token.go)
// reuse both under their own URL.

// credentialResource is a credential kind served as a collection: POST
// and GET on path, GET and DELETE (a revocation) on path/{id}.
type credentialResource struct {
	kind gatehouse.Kind
	path string // after Prefix
	// secret is the field of the create answer that carries the
	// plaintext, shown only there.
	secret string
}

func (h *handler) credentialRoutes() []route {
	var routes []route
	for _, res := range []credentialResource{
		{kind: gatehouse.KindPAT, path: "/tokens", secret: "token"},
		{kind: gatehouse.KindAPIKey, path: "/api-keys", secret: "key"},
	} {
		routes = append(routes,
			route{method: http.MethodPost, pattern: Prefix + res.path, serve: h.createCredential(res)},
			route{method: http.MethodGet, pattern: Prefix + res.path, serve: h.listCredentials(res)},
			route{method: http.MethodGet, pattern: Prefix + res.path + "/{id}", serve: h.getCredential(res)},
			route{method: http.MethodDelete, pattern: Prefix + res.path + "/{id}", serve: h.revokeCredential(res)},
		)
	}
	return routes
}

type serveFunc = func(w http.ResponseWriter, r *http.Request, a admin.Actor) error

// createCredential generates a credential; its plaintext is in this
// response only (the portal's Copy).
func (h *handler) createCredential(res credentialResource) serveFunc {
	return func(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
		in, err := credentialInput(w, r, res.kind)
		if err != nil {
			return err
		}
		c, secret, err := h.admin.CreateCredential(r.Context(), a, res.kind, in)
		if err != nil {
			return err
		}
		writeCreated(w, Prefix+res.path+"/"+c.ID, append(h.credentialJSON(c), member{res.secret, secret}))
		return nil
	}
}

// listCredentials lists a page of the tenant's credentials of the kind,
// newest first: the ones not revoked, or those of ?status=
// (active|expired|revoked), matching ?q= (name or hint) and, for a kind a
// user holds, held by ?user_id=.
func (h *handler) listCredentials(res credentialResource) serveFunc {
	return func(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
		f, err := credentialFilter(r, a, res.kind)
		if err != nil {
			return err
		}
		page, err := h.admin.Credentials(r.Context(), a, res.kind, f)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, pageOut(r, a, page, h.credentialJSON))
		return nil
	}
}

// credentialFilter reads the query of a credential list.
func credentialFilter(r *http.Request, a admin.Actor, kind gatehouse.Kind) (gatehouse.CredentialFilter, error) {
	var f gatehouse.CredentialFilter
	var err error
	if f.Page, err = pageQuery(r, a, gatehouse.CredentialSorts); err != nil {
		return f, err
	}
	if f.Query, err = searchQuery(r); err != nil {
		return f, err
	}
	q := r.URL.Query()
	if f.Status, err = gatehouse.ParseCredentialStatus(q.Get("status")); err != nil {
		return f, err
	}
	if u := q.Get("user_id"); u != "" {
		if spec, _ := kind.Spec(); spec.Holder != gatehouse.HolderSelf && spec.Holder != gatehouse.HolderMember {
			return f, badRequest("user_id does not apply: no user holds these credentials")
		}
		f.UserID = u
	}
	return f, nil
}

// getCredential shows one credential of the tenant, revoked ones included.
func (h *handler) getCredential(res credentialResource) serveFunc {
	return func(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
		c, err := h.admin.Credential(r.Context(), a, res.kind, r.PathValue("id"))
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, h.credentialJSON(c))
		return nil
	}
}

// revokeCredential revokes a credential at once; it then answers REVOKED
// at /api/v1/verify. Revoking a revoked one is a no-op.
func (h *handler) revokeCredential(res credentialResource) serveFunc {
	return func(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
		if err := h.admin.RevokeCredential(r.Context(), a, res.kind, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// writeCreated answers 201 with the created thing at location.
func writeCreated(w http.ResponseWriter, location string, body any) {
	w.Header().Set("Location", location)
	httpx.WriteJSON(w, http.StatusCreated, body)
}

// credentialRequest is the body of a create: the name under the kind's
// NameField, scopes (absent, null or empty = the kind's DefaultScopes)
// and expires_at (RFC 3339; absent or null = never). Each name field a
// kind may have is listed, so that one the kind does not have is told
// apart from an absent one.
type credentialRequest struct {
	Name        *string  `json:"name"`
	Description *string  `json:"description"`
	Scopes      []string `json:"scopes"`
	ExpiresAt   *string  `json:"expires_at"`
}

// credentialInput reads the body of a create of kind. A name field the
// kind does not have is refused like any unknown field.
func credentialInput(w http.ResponseWriter, r *http.Request, kind gatehouse.Kind) (admin.CredentialInput, error) {
	var req credentialRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return admin.CredentialInput{}, err
	}
	spec, _ := kind.Spec()
	var in admin.CredentialInput
	for _, f := range []struct {
		name  string
		value *string
	}{{"name", req.Name}, {"description", req.Description}} {
		switch {
		case f.value == nil:
		case f.name == spec.NameField:
			in.Name = *f.value
		default:
			return in, &httpx.StatusError{Status: http.StatusBadRequest, Code: "bad_request", Message: `unknown field "` + f.name + `"`}
		}
	}
	exp, err := parseTime("expires_at", req.ExpiresAt)
	if err != nil {
		return in, err
	}
	in.Scopes, in.ExpiresAt = req.Scopes, exp
	return in, nil
}

// credentialJSON is a credential as the API shows it, one shape for every
// kind with the members its row calls for, in this order: id; the name
// under NameField, for a kind whose holder names it; user_id, for a kind a
// user holds; hint, scopes, expires_at; expired, for a member's token,
// which keeps its place once expired until it is deleted (seed 001), so
// its answer says so plainly; last_used_at; revoked_at, for a kind that is
// revoked rather than deleted; created_at. Callers append what is theirs
// (a staff token's ip_allowlist, the plaintext of a create).
func (h *handler) credentialJSON(c *gatehouse.Credential) object {
	spec, _ := c.Kind.Spec()
	o := object{{"id", c.ID}}
	if spec.NameField != "" {
		o = append(o, member{spec.NameField, c.Name})
	}
	if spec.Holder == gatehouse.HolderSelf || spec.Holder == gatehouse.HolderMember {
		o = append(o, member{"user_id", c.UserID})
	}
	o = append(o, member{"hint", c.Hint}, member{"scopes", nonNil(c.Scopes)}, member{"expires_at", utc(c.ExpiresAt)})
	if spec.Holder == gatehouse.HolderMember {
		o = append(o, member{"expired", c.Expired(h.admin.Now())})
	}
	o = append(o, member{"last_used_at", utc(c.LastUsedAt)})
	if spec.Revoked != "" {
		o = append(o, member{"revoked_at", utc(c.RevokedAt)})
	}
	return append(o, member{"created_at", c.CreatedAt.UTC()})
}

// object is a JSON object whose members are written in their order.
type object []member

// member is one member of an object.
type member struct {
	name  string
	value any
}

// MarshalJSON implements json.Marshaler.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(m.name)
		if err != nil {
			return nil, err
		}
		value, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
