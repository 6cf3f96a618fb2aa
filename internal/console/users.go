package console

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// usersView is the view model of pages/users.html: the tenant's members
// with their roles, a role form per member and the "Add user" form.
type usersView struct {
	Base
	Members []memberRow
	List    *listNav
	Roles   []roleOption
	Form    userForm
	Errors  *FormErrors
	// RowErrors holds a role change's error, shown on that member's row.
	RowErrors map[string]string
}

// memberRow is one member of the list.
type memberRow struct {
	UserID    string
	Email     string
	Role      gatehouse.Role
	CreatedAt time.Time
	Self      bool
}

// memberRowOf is the row of member m; selfID is the signed-in user's ID.
func memberRowOf(m *gatehouse.Member, selfID string) memberRow {
	return memberRow{UserID: m.UserID, Email: m.Email, Role: m.Role, CreatedAt: m.CreatedAt, Self: m.UserID == selfID}
}

// roleOption is one choice of a role select, with its message IDs.
type roleOption struct {
	Role        gatehouse.Role
	Label       string // message ID
	Description string // message ID
}

// roleOptions are the roles in the order the selects offer them.
var roleOptions = []roleOption{
	{gatehouse.RoleOwner, msg("role.owner"), msg("role.owner.help")},
	{gatehouse.RoleAdmin, msg("role.admin"), msg("role.admin.help")},
	{gatehouse.RoleStaff, msg("role.staff"), msg("role.staff.help")},
}

// userForm is what the user typed into "Add user" (never the password).
type userForm struct {
	Email string
	Role  gatehouse.Role
}

func (c *Console) userList(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.renderUsers(w, r, rq, http.StatusOK, userForm{Role: gatehouse.RoleStaff}, nil, nil)
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, rq *request, status int, f userForm, fe *FormErrors, rowErrs map[string]string) error {
	pq, nav, err := listQuery(r, rq, "/console/users", msg("list.search.users"), gatehouse.MemberSorts)
	if err != nil {
		return err
	}
	members, err := c.admin.Members(r.Context(), rq.actor, gatehouse.MemberFilter{Query: nav.Query, Page: pq})
	if err != nil {
		return err
	}
	nav.fill(rq, members.Next)
	v := &usersView{
		Base:      Base{Title: msg("users.title"), Nav: "users"},
		Roles:     roleOptions,
		Form:      f,
		Errors:    fe,
		RowErrors: rowErrs,
		List:      nav,
	}
	for _, m := range members.Items {
		v.Members = append(v.Members, memberRowOf(m, rq.user.ID))
	}
	return c.render(w, r, rq, status, "users", v)
}

// userAdd adds a member (creating the user when the email is new).
// Security: adding an owner asks the signed-in owner's password again
// (current_password; password is the new user's). Only owners may make
// owners: anyone else is refused by the admin service as before.
func (c *Console) userAdd(w http.ResponseWriter, r *http.Request, rq *request) error {
	f := userForm{Email: r.PostFormValue("email"), Role: gatehouse.Role(r.PostFormValue("role"))}
	if f.Role == gatehouse.RoleOwner && rq.actor.Role == gatehouse.RoleOwner {
		fe, err := c.reconfirm(r, rq, "current_password")
		if err != nil {
			return err
		}
		if fe != nil {
			return c.renderUsers(w, r, rq, http.StatusUnprocessableEntity, f, fe, nil)
		}
	}
	_, err := c.admin.AddMember(r.Context(), rq.actor, admin.NewMember{Email: f.Email, Role: f.Role, Password: r.PostFormValue("password")})
	if err != nil {
		if status, fe, ok := c.formError(rq, err); ok {
			return c.renderUsers(w, r, rq, status, f, fe, nil)
		}
		return err
	}
	return c.flashRedirect(w, r, msg("flash.user_added"), Prefix+"/users")
}

// userRole changes a member's role. Making a member an owner goes through
// a confirmation step that asks the signed-in owner's password
// (pages/user_owner.html posts back here with current_password).
func (c *Console) userRole(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("id")
	role := gatehouse.Role(r.PostFormValue("role"))
	if role == gatehouse.RoleOwner && rq.actor.Role == gatehouse.RoleOwner {
		m, err := c.admin.Member(r.Context(), rq.actor, id)
		if err != nil {
			return err
		}
		if m.Role != gatehouse.RoleOwner {
			_, asked := r.PostForm["current_password"]
			var fe *FormErrors
			if asked {
				if fe, err = c.reconfirm(r, rq, "current_password"); err != nil {
					return err
				}
			}
			if !asked || fe != nil {
				status := http.StatusOK
				if fe != nil {
					status = http.StatusUnprocessableEntity
				}
				v := &userOwnerView{Base: Base{Title: msg("users.owner.title"), Nav: "users"}, Member: memberRowOf(m, rq.user.ID), Errors: fe}
				return c.render(w, r, rq, status, "user_owner", v)
			}
		}
	}
	_, err := c.admin.SetRole(r.Context(), rq.actor, id, role)
	if err != nil {
		return c.memberRowError(w, r, rq, id, err)
	}
	return c.flashRedirect(w, r, msg("flash.user_role"), Prefix+"/users")
}

// userOwnerView is the view model of pages/user_owner.html, the password
// confirmation before a member becomes an owner.
type userOwnerView struct {
	Base
	Member memberRow
	Errors *FormErrors
}

// userRemoveView is the view model of pages/user_remove.html, the
// confirmation step before a member is removed.
type userRemoveView struct {
	Base
	Member memberRow
}

func (c *Console) userRemoveConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	m, err := c.admin.Member(r.Context(), rq.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := &userRemoveView{
		Base:   Base{Title: msg("users.remove.title"), Nav: "users"},
		Member: memberRowOf(m, rq.user.ID),
	}
	return c.render(w, r, rq, http.StatusOK, "user_remove", v)
}

// userRemove removes a member; admin revokes their credentials with it.
func (c *Console) userRemove(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("id")
	if err := c.admin.RemoveMember(r.Context(), rq.actor, id); err != nil {
		return c.memberRowError(w, r, rq, id, err)
	}
	next := Prefix + "/users"
	if id == rq.user.ID { // removed oneself: the session's tenant is gone
		next = Prefix + "/" // the home of their role in the tenant they are moved to
	}
	return c.flashRedirect(w, r, msg("flash.user_removed"), next)
}

// memberRowError answers a refused change of member id's row (role,
// removal): the list again with the message beside that row, or err
// itself when it is not one a form shows.
func (c *Console) memberRowError(w http.ResponseWriter, r *http.Request, rq *request, id string, err error) error {
	status, fe, ok := c.formError(rq, err)
	if !ok {
		return err
	}
	m := fe.Form
	for _, x := range fe.Fields {
		m = x
	}
	return c.renderUsers(w, r, rq, status, userForm{Role: gatehouse.RoleStaff}, nil, map[string]string{id: m})
}
