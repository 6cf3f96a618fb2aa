package gatehouse

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// AuditEvent is one entry of a tenant's append-only audit log: every
// credential, user and settings change, console logins, consents and
// tenant switches, with who did it and from where.
type AuditEvent struct {
	ID       string
	TenantID string
	Time     time.Time
	Actor    string // user email, "operator" for the CLI, or a credential id
	Action   string // dotted verb, e.g. "pat.create", "settings.update"
	// Target is the one-line summary of the object acted on and the facts
	// of the action (e.g. "cred_… Export", "bob@acme.test role=staff").
	Target string
	// TargetID and TargetName are the object's id and its name as it was
	// at the time of the event (a token's name, an email, a tenant's
	// name), kept so the log reads the same after a rename or deletion;
	// either may be "" (settings have no id).
	TargetID   string
	TargetName string
	IP         string // client address, "" when not over HTTP
	// Details are facts of the action ("reason": "password"); Changes
	// the fields it changed, each with its old and new value.
	Details map[string]string
	Changes []AuditChange
}

// AuditChange is one field an audited action changed.
type AuditChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// AuditQuery selects and pages through a tenant's audit log, newest first
// (by Time, then by the order of appending).
type AuditQuery struct {
	AuditFilter
	Sort  Sort         // SortNewest ("") or SortOldest (AuditSorts)
	After *AuditCursor // return events after this position in Sort's order (nil = from the first)
	Limit int          // at most this many (stores cap it at MaxAuditLimit; 0 means 50)
}

// MaxAuditLimit is the most events one ListAudit call returns.
const MaxAuditLimit = 500

// AuditFilter narrows the audit log. Empty fields match everything.
type AuditFilter struct {
	// Action is an exact action ("pat.create") or a prefix ending in ".*"
	// ("pat.*" matches "pat.create" and "pat.revoke", not "patx.create").
	Action string
	Actor  string // exact actor (an email, "operator", a credential id)
	// Target is an exact TargetID, TargetName or Target, or the first
	// word of Target (the id, in summaries such as "cred_… Export").
	Target string
	Since  time.Time // events at or after Since (zero: no bound)
	Until  time.Time // events before Until (zero: no bound)
}

// auditAction is what an action filter may be: dotted lower-case words,
// optionally ending in ".*".
var auditAction = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$`)

// maxAuditFilterLen bounds each text filter.
const maxAuditFilterLen = 320

// Validate reports the first bad field of f (EINVALID).
func (f AuditFilter) Validate() error {
	if f.Action != "" && (len(f.Action) > 100 || !auditAction.MatchString(f.Action)) {
		return FieldError("action", "action must be an action such as pat.create or a prefix such as pat.*").WithID("error.audit.action")
	}
	if len(f.Actor) > maxAuditFilterLen {
		return FieldError("actor", "actor is too long").WithID("error.audit.actor")
	}
	if len(f.Target) > maxAuditFilterLen {
		return FieldError("target", "target is too long").WithID("error.audit.target")
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return FieldError("until", "until must be after since").WithID("error.audit.until")
	}
	return nil
}

// ActionPrefix returns the prefix an action filter names ("pat." for
// "pat.*") and true, or "" and false for an exact action.
func (f AuditFilter) ActionPrefix() (string, bool) {
	if p, ok := strings.CutSuffix(f.Action, "*"); ok {
		return p, true
	}
	return "", false
}

// Matches reports whether e passes f (the rule stores implement in SQL).
func (f AuditFilter) Matches(e *AuditEvent) bool {
	if p, ok := f.ActionPrefix(); ok {
		if !strings.HasPrefix(e.Action, p) {
			return false
		}
	} else if f.Action != "" && e.Action != f.Action {
		return false
	}
	if f.Actor != "" && e.Actor != f.Actor {
		return false
	}
	if f.Target != "" && e.TargetID != f.Target && e.TargetName != f.Target && e.Target != f.Target &&
		!strings.HasPrefix(e.Target, f.Target+" ") {
		return false
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	return true
}

// AuditCursor is a position in a tenant's audit log: an event's Time and
// its append sequence (Seq), the keyset the log is ordered by. It is
// opaque to clients (String, ParseAuditCursor).
type AuditCursor struct {
	Sort Sort // the order it is a position in: SortNewest ("") or SortOldest
	Time time.Time
	Seq  int64
}

// auditCursorTags name the order of an encoded cursor.
var auditCursorTags = map[Sort]string{SortNewest: "a1", SortOldest: "o1"}

// String encodes c as an opaque, URL-safe cursor.
func (c AuditCursor) String() string {
	tag := auditCursorTags[c.Sort.Or()]
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s:%d:%d", tag, c.Time.UnixMicro(), c.Seq))
}

// ParseAuditCursor decodes a cursor String made for a page in the order
// sort; anything else, a cursor of the other order included, is
// EINVALID.
func ParseAuditCursor(s string, sort Sort) (*AuditCursor, error) {
	c, err := parseAuditCursor(s)
	if err != nil {
		return nil, err
	}
	if c.Sort != sort.Or() {
		return nil, FieldError("next", "next was handed out for sort=%s, not sort=%s; pass the sort it came with or start again without next", c.Sort, sort.Or()).WithID("error.cursor_sort")
	}
	return c, nil
}

func parseAuditCursor(s string) (*AuditCursor, error) {
	bad := FieldError("next", "next is not a cursor this service handed out").WithID("error.cursor")
	if len(s) > 64 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(b), ":")
	var sort Sort
	for st, tag := range auditCursorTags {
		if len(parts) == 3 && parts[0] == tag {
			sort = st
		}
	}
	if sort == "" {
		return nil, bad
	}
	us, err1 := strconv.ParseInt(parts[1], 10, 64)
	seq, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || seq < 0 {
		return nil, bad
	}
	return &AuditCursor{Sort: sort, Time: time.UnixMicro(us).UTC(), Seq: seq}, nil
}

// AuditPage is one page of ListAudit: the events and, when more may
// follow, the cursor of the next page.
type AuditPage struct {
	Events []*AuditEvent
	Next   *AuditCursor // nil on the last page
}
