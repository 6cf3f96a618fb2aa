package api

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Members of the tenant: /api/v1/users. A user's id is global, but only
// members of the caller's tenant are visible here.

func (h *handler) userRoutes() []route {
	return []route{
		{method: http.MethodPost, pattern: Prefix + "/users", serve: h.createUser},
		{method: http.MethodGet, pattern: Prefix + "/users", serve: h.listUsers},
		{method: http.MethodGet, pattern: Prefix + "/users/{id}", serve: h.getUser},
		{method: http.MethodPatch, pattern: Prefix + "/users/{id}", serve: h.updateUser},
		{method: http.MethodDelete, pattern: Prefix + "/users/{id}", serve: h.deleteUser},
	}
}

// userRequest is the body of POST /users.
type userRequest struct {
	Email    string         `json:"email"`
	Role     gatehouse.Role `json:"role"`
	Password string         `json:"password"` // only for a new user; "" = cannot log in
}

// userPatch is the body of PATCH /users/{id}; absent fields stay as they are.
type userPatch struct {
	Role *gatehouse.Role `json:"role"`
}

// userJSON is a member as the API shows it; CreatedAt is when the user
// joined the tenant.
type userJSON struct {
	ID        string         `json:"id"`
	Email     string         `json:"email"`
	Role      gatehouse.Role `json:"role"`
	CreatedAt time.Time      `json:"created_at"`
}

func userOut(m *gatehouse.Member) userJSON {
	return userJSON{ID: m.UserID, Email: m.Email, Role: m.Role, CreatedAt: m.CreatedAt.UTC()}
}

// createUser adds a member, creating the user when the email is new.
func (h *handler) createUser(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var req userRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	m, err := h.admin.AddMember(r.Context(), a, admin.NewMember{Email: req.Email, Role: req.Role, Password: req.Password})
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/users/"+m.UserID)
	httpx.WriteJSON(w, http.StatusCreated, userOut(m))
	return nil
}

func (h *handler) listUsers(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var f gatehouse.MemberFilter
	var err error
	if f.Page, err = pageQuery(r, a, gatehouse.MemberSorts); err != nil {
		return err
	}
	if f.Query, err = searchQuery(r); err != nil {
		return err
	}
	f.Role = gatehouse.Role(r.URL.Query().Get("role"))
	page, err := h.admin.Members(r.Context(), a, f)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, pageOut(r, a, page, userOut))
	return nil
}

func (h *handler) getUser(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	m, err := h.admin.Member(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, userOut(m))
	return nil
}

// updateUser changes a member's role (admin.SetRole keeps the last owner).
func (h *handler) updateUser(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	var req userPatch
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	var (
		m   *gatehouse.Member
		err error
	)
	if req.Role == nil {
		m, err = h.admin.Member(r.Context(), a, id)
	} else {
		m, err = h.admin.SetRole(r.Context(), a, id, *req.Role)
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, userOut(m))
	return nil
}

// deleteUser removes a member; the store revokes their credentials in the
// same transaction.
func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request, a admin.Actor) error {
	if err := h.admin.RemoveMember(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
