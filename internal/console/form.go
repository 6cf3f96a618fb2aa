package console

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// FormErrors are the messages a re-rendered form shows: one per input
// (keyed by the input's name) and one for the form as a whole.
type FormErrors struct {
	Fields map[string]string
	Form   string
}

// Field returns the message for one input ("" when it is fine).
func (e *FormErrors) Field(name string) string {
	if e == nil {
		return ""
	}
	return e.Fields[name]
}

// Any reports whether there is any message.
func (e *FormErrors) Any() bool { return e != nil && (e.Form != "" || len(e.Fields) > 0) }

// formError decides whether an error of the admin service is something
// the user can fix in the form (validation, a conflict, a right their role
// lacks for this particular change). If so it returns the status to
// re-render the form with (422, 409, 403) and the translated messages;
// otherwise ok is false and the error becomes an error page.
func (c *Console) formError(rq *request, err error) (status int, fe *FormErrors, ok bool) {
	return c.formErrorFor(rq, err, nil)
}

// formErrorFor is formError for a form whose inputs need their own
// messages: fields maps an error's Field to the message ID shown next to
// that input. Then an error with a message ID says its own reason, and
// the console-wide fieldMessages are the fallback for one without.
func (c *Console) formErrorFor(rq *request, err error, fields map[string]string) (status int, fe *FormErrors, ok bool) {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return 0, nil, false
	}
	switch ge.Code {
	case gatehouse.EINVALID, gatehouse.ECONFLICT:
	case gatehouse.EFORBIDDEN:
		// Staff may do nothing here: that is the 403 page, not a form error.
		if !rq.actor.Role.CanManage() {
			return 0, nil, false
		}
	default:
		return 0, nil, false
	}
	status = http.StatusUnprocessableEntity
	switch ge.Code {
	case gatehouse.ECONFLICT:
		status = http.StatusConflict
	case gatehouse.EFORBIDDEN:
		status = http.StatusForbidden
	}
	fe = &FormErrors{Fields: map[string]string{}}
	var te *gatehouse.TextError
	if errors.As(err, &te) && ge.Field != "" {
		fe.Fields[ge.Field] = rq.loc.T(msg("error.field.text"))
	} else if id, known := fields[ge.Field]; known {
		fe.Fields[ge.Field] = rq.loc.T(id, "Max", gatehouse.MaxAllowEntryName)
	} else if ge.Field != "" && ge.ID != "" && rq.loc.has(ge.ID) {
		// The domain's own reason ("… has host bits set; did you mean
		// …?") in the reader's language, before the console-wide text.
		fe.Fields[ge.Field] = domainText(rq.loc, ge)
	} else if id, known := fieldMessages[ge.Field]; known {
		fe.Fields[ge.Field] = rq.loc.T(id, "Min", admin.MinPasswordLen)
	} else if ge.Field != "" {
		fe.Fields[ge.Field] = domainText(rq.loc, ge)
	} else {
		fe.Form = domainText(rq.loc, ge)
	}
	return status, fe, true
}

// domainText is a gatehouse.Error in the reader's language: the message
// its ID names, with its Args, or the admin service's (English) Message
// when it has no ID or the catalogue lacks it.
func domainText(loc *localizer, ge *gatehouse.Error) string {
	if ge.ID == "" || !loc.has(ge.ID) {
		return ge.Message
	}
	args := make([]any, 0, 2*len(ge.Args))
	for k, v := range ge.Args {
		args = append(args, k, v)
	}
	return loc.T(ge.ID, args...)
}

// fieldError is a FormErrors with a single input's message.
func fieldError(field, message string) *FormErrors {
	return &FormErrors{Fields: map[string]string{field: message}}
}

// consumeNonce spends the form's single-use nonce. A second use (a reload
// of a page showing a secret) sets a flash and redirects to back; ok is
// then false and the caller must stop.
func (c *Console) consumeNonce(w http.ResponseWriter, r *http.Request, rq *request, back string) (ok bool, err error) {
	nonce := r.PostFormValue("nonce")
	if nonce == "" || len(nonce) > 64 {
		return true, nil
	}
	err = c.store.ConsumeOnce(r.Context(), "console_form", rq.session.ID+":"+nonce, c.now(), rq.session.ExpiresAt)
	if gatehouse.IsCode(err, gatehouse.ECONFLICT) {
		c.setFlash(w, msg("flash.form_resubmitted"))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return false, nil
	}
	return err == nil, err
}

// endOfDay reads a date input (YYYY-MM-DD, surrounding space ignored) as
// the last second of that day in UTC: a credential expiring on a date works
// through the whole day, which is also what the lists show.
func endOfDay(s string) (time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(s), time.UTC)
	if err != nil {
		return time.Time{}, err
	}
	return d.AddDate(0, 0, 1).Add(-time.Second), nil
}

// setOf turns a group of checkbox values into the set a form re-renders
// them from.
func setOf(v []string) map[string]bool {
	set := make(map[string]bool, len(v))
	for _, s := range v {
		set[s] = true
	}
	return set
}

// expiryLayout is the value format of <input type="datetime-local">.
const expiryLayout = "2006-01-02T15:04"

// parseExpiry reads a datetime-local expiry (UTC), with or without
// seconds, or a bare date meaning the end of that day.
func parseExpiry(s string) (time.Time, error) {
	for _, layout := range []string{expiryLayout, "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return endOfDay(s)
}

// scopeNode is a resource of the scope checkbox tree; the template titles
// it in the reader's language ({{title .Resource}}).
type scopeNode struct {
	ID       string
	Resource *gatehouse.Resource
	Checked  bool
	Children []*scopeNode
}

// scopePicker is the data of the scope_tree partial: the resource tree as
// checkboxes, what is ticked, the field's error and whether the reserved
// "manage" resource is offered (only where the credential may hold it).
type scopePicker struct {
	Legend  string // message ID
	Help    string // message ID
	Tree    []*scopeNode
	Checked map[string]bool
	Error   string
	Manage  bool
}

// picker builds the scope checkboxes with checked ticked.
func (c *Console) picker(checked map[string]bool, fe *FormErrors, manage bool) scopePicker {
	return scopePicker{
		Legend: msg("pat.form.scopes"), Help: msg("pat.form.scopes.help"),
		Tree: scopeTree(c.admin.Tree().Roots(), checked), Checked: checked,
		Error: fe.Field("scopes"), Manage: manage,
	}
}

// scopeTree turns the resource tree into checkbox nodes.
func scopeTree(roots []*gatehouse.Resource, checked map[string]bool) []*scopeNode {
	out := make([]*scopeNode, 0, len(roots))
	for _, r := range roots {
		out = append(out, &scopeNode{ID: r.ID, Resource: r, Checked: checked[r.ID], Children: scopeTree(r.Children, checked)})
	}
	return out
}
