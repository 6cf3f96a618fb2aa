package gatehouse

import "time"

// AuditEvent is one entry of a tenant's append-only audit log: every
// credential, user and settings change, with who did it and from where.
type AuditEvent struct {
	ID       string
	TenantID string
	Time     time.Time
	Actor    string // user email, "operator" for the CLI, or a credential id
	Action   string // dotted verb, e.g. "pat.create", "settings.update"
	Target   string // the object acted on, e.g. a credential id or an email
	IP       string // client address, "" when not over HTTP
}

// AuditQuery pages through a tenant's audit log, newest first.
type AuditQuery struct {
	Before string // return events older than the event with this id ("" = newest)
	Limit  int    // at most this many (stores cap it at 500; 0 means 50)
}
