package gatehouse

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
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

// Cursor is the place of the last item of a page: its creation time and ID.
type Cursor struct {
	Time time.Time
	ID   string
}

// PageQuery asks for one page: at most Limit items (0 = all) after After
// (nil = from the newest).
type PageQuery struct {
	Limit int
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
func PageOf[T any](items []T, q PageQuery, at func(T) Cursor) Page[T] {
	if q.Limit <= 0 || len(items) <= q.Limit {
		return Page[T]{Items: items}
	}
	items = items[:q.Limit]
	next := at(items[len(items)-1])
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

// Encode returns the cursor as an opaque URL-safe token for the list named
// scope (a tenant and a collection, e.g. "ten_x/tokens").
//
// Security: the token is not secret (it names an item its bearer has
// seen), but it carries a tag of scope, so that a cursor of another
// tenant or collection, or an edited one, is refused rather than
// positioning a walk; the store's tenant filter holds either way.
func (c Cursor) Encode(scope string) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(c.Time.UTC().UnixMicro()))
	b = append(b, c.ID...)
	return base64.RawURLEncoding.EncodeToString(append(b, cursorTag(scope, b)...))
}

// ParseCursor reads a token of Encode for the list named scope. A token
// that is not one, or is of another list, is EINVALID.
func ParseCursor(token, scope string) (*Cursor, error) {
	bad := Errorf(EINVALID, "next is not a cursor of this list; start again without it")
	if len(token) > 256 {
		return nil, bad
	}
	// Only the one spelling Encode writes: the decoder would also take
	// line breaks and other trailing bits.
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 8+1+cursorTagLen || base64.RawURLEncoding.EncodeToString(b) != token {
		return nil, bad
	}
	body, tag := b[:len(b)-cursorTagLen], b[len(b)-cursorTagLen:]
	if string(tag) != string(cursorTag(scope, body)) {
		return nil, bad
	}
	id := string(body[8:])
	if !utf8.ValidString(id) || strings.ContainsAny(id, " \x00") {
		return nil, bad
	}
	us := int64(binary.BigEndian.Uint64(body[:8]))
	return &Cursor{Time: time.UnixMicro(us).UTC(), ID: id}, nil
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

// At is the cursor of the member's place in a list.
func (m *Member) At() Cursor { return Cursor{Time: m.CreatedAt, ID: m.UserID} }

// At is the cursor of the app's place in a list.
func (c *Client) At() Cursor { return Cursor{Time: c.CreatedAt, ID: c.ID} }

// At is the cursor of the integration's place in a list.
func (i *Integration) At() Cursor { return Cursor{Time: i.CreatedAt, ID: i.ID} }

// At is the cursor of the delivery's place in a list.
func (d *Delivery) At() Cursor { return Cursor{Time: d.Time, ID: d.ID} }

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
