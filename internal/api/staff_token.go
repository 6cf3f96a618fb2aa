package api

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Staff API tokens with their IP whitelists (seed 001, SHOPLINE's API
// Auth tab): /api/v1/users/{id}/api-token and
// /api/v1/users/{id}/api-token/ip-allowlist. A member holds at most one
// token; admin.Service enforces the seed's rules (409 while a token exists
// or before one does, names of at most 20 characters, at most 20 entries).
// The token is made and shown by the generic credential code
// (credentials.go); its URL under its user and its whitelist are its own.

func (h *handler) staffTokenRoutes() []route {
	const token = Prefix + "/users/{id}/api-token"
	return []route{
		{method: http.MethodPost, pattern: token, serve: h.generateStaffToken},
		{method: http.MethodGet, pattern: token, serve: h.getStaffToken},
		{method: http.MethodDelete, pattern: token, serve: h.deleteStaffToken},
		{method: http.MethodPost, pattern: token + "/ip-allowlist", serve: h.addAllowEntry},
		{method: http.MethodGet, pattern: token + "/ip-allowlist", serve: h.listAllowEntries},
		{method: http.MethodDelete, pattern: token + "/ip-allowlist/{entry}", serve: h.deleteAllowEntry},
	}
}

// allowListJSON is one IP whitelist entry. CIDR is canonical: always a
// prefix (a single address is /32 or /128), IPv6 lower-case and
// compressed, IPv4-mapped IPv6 written as IPv4.
type allowListJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CIDR      string    `json:"cidr"`
	CreatedAt time.Time `json:"created_at"`
}

// allowEntryRequest is the body of POST …/ip-allowlist.
type allowEntryRequest struct {
	Name string `json:"name"`
	CIDR string `json:"cidr"`
}

func allowEntryOut(e *gatehouse.AllowEntry) allowListJSON {
	return allowListJSON{ID: e.ID, Name: e.Name, CIDR: e.Prefix.String(), CreatedAt: e.CreatedAt.UTC()}
}

func allowListOut(list []gatehouse.AllowEntry) []allowListJSON {
	out := make([]allowListJSON, 0, len(list))
	for i := range list {
		out = append(out, allowEntryOut(&list[i]))
	}
	return out
}

// staffTokenJSON is the generic credentialJSON with the token's IP
// whitelist.
func (h *handler) staffTokenJSON(c *gatehouse.Credential) object {
	return append(h.credentialJSON(c), member{"ip_allowlist", allowListOut(c.AllowList)})
}

// generateStaffToken is the API Auth tab's Generate; the plaintext token is
// in this response only.
func (h *handler) generateStaffToken(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	in, err := credentialInput(w, r, gatehouse.KindStaff)
	if err != nil {
		return err
	}
	in.UserID = r.PathValue("id")
	c, tok, err := h.admin.CreateCredential(r.Context(), a, gatehouse.KindStaff, in)
	if err != nil {
		return err
	}
	writeCreated(w, Prefix+"/users/"+in.UserID+"/api-token", append(h.staffTokenJSON(c), member{"token", tok}))
	return nil
}

// getStaffToken shows the user's token, without its secret, with its
// whitelist; 404 when the user has none.
func (h *handler) getStaffToken(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	c, err := h.admin.StaffToken(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, h.staffTokenJSON(c))
	return nil
}

// deleteStaffToken deletes the user's token and its whole whitelist; it
// stops working at once.
func (h *handler) deleteStaffToken(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	c, err := h.admin.StaffToken(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.admin.DeleteCredential(r.Context(), a, gatehouse.KindStaff, c.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// addAllowEntry is +New IP Whitelist.
func (h *handler) addAllowEntry(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var req allowEntryRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	userID := r.PathValue("id")
	e, err := h.admin.AddStaffAllowEntry(r.Context(), a, userID, req.Name, req.CIDR)
	if err != nil {
		return err
	}
	writeCreated(w, Prefix+"/users/"+userID+"/api-token/ip-allowlist/"+e.ID, allowEntryOut(e))
	return nil
}

// listAllowEntries lists the whitelist of the user's token, oldest first
// (the order entries were added in).
func (h *handler) listAllowEntries(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	list, err := h.admin.StaffAllowList(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, newList(allowListOut(list)))
	return nil
}

// deleteAllowEntry removes one whitelist entry.
func (h *handler) deleteAllowEntry(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	if err := h.admin.DeleteStaffAllowEntry(r.Context(), a, r.PathValue("id"), r.PathValue("entry")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
