package gatehouse

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Lists page by keyset (SPEC §9): newest first, ordered by (CreatedAt, ID)
// descending, and a page after a cursor holds what is strictly older than
// the cursor's item. Rows created meanwhile are newer than any cursor and
// rows removed meanwhile leave no gap, so a walk sees every item that
// lived through it exactly once, which OFFSET cannot promise.

// Page sizes of every list (SPEC §9).
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// Sort is the order of a list. Every order ends on the ID, so that items
// with equal keys (names, expiries, creation times) still have one place
// each and a keyset walk sees each of them exactly once.
type Sort string

// The orders lists offer (each list a few of them: CredentialSorts, …).
// Text keys order by code point, identically on every store (capitals
// before small letters); a missing time (never expires, never used)
// comes after every present one.
const (
	SortNewest   Sort = "newest"    // creation time, newest first (SPEC §9; the default)
	SortOldest   Sort = "oldest"    // creation time, oldest first
	SortName     Sort = "name"      // name A to Z
	SortEmail    Sort = "email"     // e-mail A to Z
	SortExpires  Sort = "expires"   // soonest expiry first, never-expiring last
	SortLastUsed Sort = "last_used" // most recently used first, never used last
)

// The orders of each list.
var (
	CredentialSorts  = []Sort{SortNewest, SortOldest, SortName, SortExpires, SortLastUsed}
	MemberSorts      = []Sort{SortNewest, SortOldest, SortEmail}
	ClientSorts      = []Sort{SortNewest, SortOldest, SortName}
	IntegrationSorts = []Sort{SortNewest, SortOldest, SortName}
	AuditSorts       = []Sort{SortNewest, SortOldest}
)

// sortCodes numbers the orders in cursors; append only.
var sortCodes = []Sort{SortNewest, SortOldest, SortName, SortEmail, SortExpires, SortLastUsed}

// Or is s, or SortNewest for "".
func (s Sort) Or() Sort { return cmp.Or(s, SortNewest) }

// ParseSort reads a list's sort parameter: "" is SortNewest; an order
// not in allowed is EINVALID naming the allowed ones.
func ParseSort(s string, allowed []Sort) (Sort, error) {
	if s == "" {
		return SortNewest, nil
	}
	if slices.Contains(allowed, Sort(s)) {
		return Sort(s), nil
	}
	return "", FieldError("sort", "sort must be one of %s", JoinSorts(allowed)).WithID("error.sort")
}

// JoinSorts is the orders as a comma-separated list.
func JoinSorts(sorts []Sort) string {
	names := make([]string, len(sorts))
	for i, s := range sorts {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// Cursor is the place of the last item of a page in its order (Sort): its
// key and its ID. The key is Time for SortNewest and SortOldest (the
// creation time) and for SortExpires and SortLastUsed (with Null when
// the item has none), Text for SortName and SortEmail.
type Cursor struct {
	Sort Sort // "" = SortNewest
	Time time.Time
	Null bool
	Text string
	ID   string
}

// TimeCursor is the place of an item whose key is the optional time t.
func TimeCursor(s Sort, t *time.Time, id string) Cursor {
	if t == nil {
		return Cursor{Sort: s, Null: true, ID: id}
	}
	return Cursor{Sort: s, Time: *t, ID: id}
}

// PageQuery asks for one page: at most Limit items (0 = all) in the order
// Sort ("" = SortNewest) after After (nil = from the first).
type PageQuery struct {
	Limit int
	Sort  Sort
	After *Cursor
}

// Page is one page of a list and the cursor of the next one (nil on the
// last page).
type Page[T any] struct {
	Items []T
	Next  *Cursor
}

// PageOf makes a page of items, which a store read with Limit+1 for q:
// an item beyond q.Limit means there is a next page, whose cursor is the
// place of the page's last item (at).
func PageOf[T any](items []T, q PageQuery, at func(T, Sort) Cursor) Page[T] {
	if q.Limit <= 0 || len(items) <= q.Limit {
		return Page[T]{Items: items}
	}
	items = items[:q.Limit]
	next := at(items[len(items)-1], q.Sort.Or())
	next.Sort = q.Sort.Or()
	return Page[T]{Items: items, Next: &next}
}

// Plus1 is q asking for one more item, to learn whether a next page exists.
func (q PageQuery) Plus1() PageQuery {
	if q.Limit > 0 {
		q.Limit++
	}
	return q
}

// cursorTagLen is the length of the tag that ties a cursor to its list.
const cursorTagLen = 8

// MaxCursorLen bounds a cursor token: it holds a text key (a name of up
// to 255 characters, 4 bytes each at most, or an e-mail) and an ID.
const MaxCursorLen = 2048

// Encode returns the cursor as an opaque URL-safe token for the list named
// scope (a tenant and a collection, e.g. "ten_x/tokens").
//
// Security: the token is not secret (it names an item its bearer has
// seen), but it carries a tag of scope, so that a cursor of another
// tenant or collection, or an edited one, is refused rather than
// positioning a walk; the store's tenant filter holds either way.
func (c Cursor) Encode(scope string) string {
	b := []byte{byte(max(slices.Index(sortCodes, c.Sort.Or()), 0)), 0}
	us := c.Time.UTC().UnixMicro()
	if c.Null {
		b[1], us = 1, 0
	}
	b = binary.BigEndian.AppendUint64(b, uint64(us))
	b = binary.AppendUvarint(b, uint64(len(c.Text)))
	b = append(b, c.Text...)
	b = append(b, c.ID...)
	return base64.RawURLEncoding.EncodeToString(append(b, cursorTag(scope, b)...))
}

// ParseCursor reads a token of Encode for the list named scope in the
// order sort. A token that is not one, is of another list or of another
// order of the list is EINVALID.
func ParseCursor(token, scope string, sort Sort) (*Cursor, error) {
	bad := Errorf(EINVALID, "next is not a cursor of this list; start again without it").WithID("error.cursor")
	if len(token) > MaxCursorLen {
		return nil, bad
	}
	// Only the one spelling Encode writes: the decoder would also take
	// line breaks and other trailing bits.
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 2+8+1+1+cursorTagLen || base64.RawURLEncoding.EncodeToString(b) != token {
		return nil, bad
	}
	body, tag := b[:len(b)-cursorTagLen], b[len(b)-cursorTagLen:]
	if string(tag) != string(cursorTag(scope, body)) {
		return nil, bad
	}
	if int(body[0]) >= len(sortCodes) || body[1] > 1 {
		return nil, bad
	}
	c := &Cursor{Sort: sortCodes[body[0]], Null: body[1] == 1}
	if !c.Null {
		c.Time = time.UnixMicro(int64(binary.BigEndian.Uint64(body[2:10]))).UTC()
	}
	n, k := binary.Uvarint(body[10:])
	if k <= 0 || n > uint64(len(body)-10-k) {
		return nil, bad
	}
	rest := body[10+k:]
	c.Text, c.ID = string(rest[:n]), string(rest[n:])
	if c.ID == "" || !utf8.ValidString(c.ID) || !utf8.ValidString(c.Text) || strings.ContainsAny(c.ID, " \x00") {
		return nil, bad
	}
	if c.Encode(scope) != token { // one spelling of each cursor
		return nil, bad
	}
	if c.Sort != sort.Or() {
		return nil, Errorf(EINVALID, "next was handed out for sort=%s, not sort=%s; pass the sort it came with or start again without next", c.Sort, sort.Or()).WithID("error.cursor_sort")
	}
	return c, nil
}

func cursorTag(scope string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte("gatehouse-cursor\x00" + scope + "\x00"))
	h.Write(body)
	return h.Sum(nil)[:cursorTagLen]
}

// ListFilter selects a page of a tenant's list that is searched by name
// (OAuth apps: name or client id; integrations: name or email).
type ListFilter struct {
	Query string // case-insensitive substring ("" = all)
	Page  PageQuery
}

// MemberFilter selects a page of a tenant's members.
type MemberFilter struct {
	Role  Role   // "" = any role
	Query string // a case-insensitive substring of the email ("" = all)
	Page  PageQuery
}

// At is the cursor of the member's place in a list in the order s.
func (m *Member) At(s Sort) Cursor {
	if s == SortEmail {
		return Cursor{Sort: s, Text: m.Email, ID: m.UserID}
	}
	return Cursor{Sort: s.Or(), Time: m.CreatedAt, ID: m.UserID}
}

// At is the cursor of the app's place in a list in the order s.
func (c *Client) At(s Sort) Cursor {
	if s == SortName {
		return Cursor{Sort: s, Text: c.Name, ID: c.ID}
	}
	return Cursor{Sort: s.Or(), Time: c.CreatedAt, ID: c.ID}
}

// At is the cursor of the integration's place in a list in the order s.
func (i *Integration) At(s Sort) Cursor {
	if s == SortName {
		return Cursor{Sort: s, Text: i.Name, ID: i.ID}
	}
	return Cursor{Sort: s.Or(), Time: i.CreatedAt, ID: i.ID}
}

// At is the cursor of the delivery's place in its list (newest first
// only).
func (d *Delivery) At(Sort) Cursor { return Cursor{Sort: SortNewest, Time: d.Time, ID: d.ID} }

// Collect walks a whole list, MaxPageLimit items at a time: list returns
// the page q asks for. For callers that want every item (the CLI's lists,
// housekeeping), never for answers to a request, which page.
func Collect[T any](list func(q PageQuery) (Page[T], error)) ([]T, error) {
	var all []T
	q := PageQuery{Limit: MaxPageLimit}
	for {
		p, err := list(q)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if p.Next == nil {
			return all, nil
		}
		q.After = p.Next
	}
}
