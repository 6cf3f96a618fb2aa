package sqlstore

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// ID prefixes say what an ID names when it turns up in a log or a URL.
const (
	prefixTenant       = "ten_"
	prefixUser         = "usr_"
	prefixCredential   = "cred_"
	prefixAllowEntry   = "ip_"
	prefixAudit        = "aud_"
	prefixSession      = "ses_"
	prefixIntegration  = "int_"
	prefixDelivery     = "dlv_"
	prefixNotification = "ntf_"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix followed by 128 random bits in lower-case base32.
// IDs are generated here rather than by the database so both dialects make
// the same kind, and so a caller can know an ID before the insert commits.
func newID(prefix string) string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	var sb strings.Builder
	sb.Grow(len(prefix) + 26)
	sb.WriteString(prefix)
	sb.WriteString(idEncoding.EncodeToString(b[:]))
	return sb.String()
}
