package console

import (
	"net/http"
)

// userView is the view model of pages/user.html, the Profile tab of one
// member: email, role (with the role form of the Users page) and Remove.
type userView struct {
	Base
	Member memberRow
	Roles  []roleOption
	Tab    string // the user_tabs entry to highlight
}

// userPage shows one member of the tenant (seed 001 step 3: "Click the
// newly added administrator to edit"). Another tenant's user is 404.
func (c *Console) userPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	m, err := c.admin.Member(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := &userView{
		Base:   Base{Title: msg("user.title"), Nav: "users"},
		Member: memberRowOf(m, rq.user.ID),
		Roles:  roleOptions,
		Tab:    "profile",
	}
	return c.render(w, r, rq, http.StatusOK, "user", v)
}
