package sqlstore

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// listQuery builds the WHERE, ORDER BY and LIMIT of a tenant's list read
// by keyset (gatehouse.PageQuery): newest first on (created, id).
type listQuery struct {
	db    *DB
	where []string
	args  []any
}

// newListQuery starts a list of tenantID's rows, whose tenant column is col.
func newListQuery(db *DB, tenantID, col string) *listQuery {
	return &listQuery{db: db, where: []string{col + ` = $1`}, args: []any{tenantID}}
}

// arg adds an argument and returns its number.
func (l *listQuery) arg(v any) int {
	l.args = append(l.args, v)
	return len(l.args)
}

// and adds a condition with one argument, written $%d in cond.
func (l *listQuery) and(cond string, v any) {
	l.where = append(l.where, fmt.Sprintf(cond, l.arg(v)))
}

// search adds the condition that one of columns holds q (matches).
func (l *listQuery) search(q string, columns ...string) {
	l.where = append(l.where, l.db.matches(l.arg, q, columns...))
}

// page returns the WHERE clause, the keyset condition of p and the
// ORDER BY and LIMIT in the order of p.Sort among orders, tie broken by
// the column id. An order not in orders is EINVALID.
func (l *listQuery) page(p gatehouse.PageQuery, orders map[gatehouse.Sort]order, id string) (string, error) {
	o, err := orderOf(p, orders)
	if err != nil {
		return "", err
	}
	if c := p.After; c != nil {
		l.where = append(l.where, o.after(l.db, l.arg, c, id))
	}
	s := `WHERE ` + strings.Join(l.where, ` AND `) + ` ORDER BY ` + o.by(l.db, id)
	if p.Limit > 0 {
		s += fmt.Sprintf(` LIMIT $%d`, l.arg(p.Limit))
	}
	return s, nil
}

// order is how a list is ordered for a gatehouse.Sort: by key, then by
// the ID, both ascending or both descending (desc). A nullable key's
// NULLs come last in either direction, by an explicit first term, its
// rank (0 or 1, in the same direction), rather than by the dialect's
// NULLS default (SQLite puts NULL first ascending, PostgreSQL last). One
// direction throughout lets the keyset be one row comparison and an
// index (migration 0011) hold the order. A text key is ordered by code
// point on both dialects.
type order struct {
	key      string // a column
	desc     bool
	nullable bool // a time column that may be NULL
	text     bool // a text column: the cursor's Text, else its Time
}

// orderOf is the order of p.Sort ("" = newest) among orders. A cursor of
// another order is EINVALID: its key is not this order's.
func orderOf(p gatehouse.PageQuery, orders map[gatehouse.Sort]order) (order, error) {
	o, ok := orders[p.Sort.Or()]
	if !ok {
		return order{}, gatehouse.FieldError("sort", "this list cannot be sorted by %q", p.Sort)
	}
	if p.After != nil && p.After.Sort.Or() != p.Sort.Or() {
		return order{}, gatehouse.FieldError("next", "the cursor is of sort %s, not %s", p.After.Sort.Or(), p.Sort.Or())
	}
	return o, nil
}

// newestOldest are the orders by the column created.
func newestOldest(created string) map[gatehouse.Sort]order {
	return map[gatehouse.Sort]order{
		gatehouse.SortNewest: {key: created, desc: true},
		gatehouse.SortOldest: {key: created},
	}
}

// with returns orders and s ordered by o.
func with(orders map[gatehouse.Sort]order, s gatehouse.Sort, o order) map[gatehouse.Sort]order {
	orders[s] = o
	return orders
}

// The orders of each list (gatehouse.CredentialSorts, …).
var (
	credentialOrders = with(with(with(newestOldest("c.created_at"),
		gatehouse.SortName, order{key: "c.name", text: true}),
		gatehouse.SortExpires, order{key: "c.expires_at", nullable: true}),
		gatehouse.SortLastUsed, order{key: "c.last_used_at", desc: true, nullable: true})
	memberOrders      = with(newestOldest("m.created_at"), gatehouse.SortEmail, order{key: "u.email", text: true})
	clientOrders      = with(newestOldest("created_at"), gatehouse.SortName, order{key: "name", text: true})
	integrationOrders = with(newestOldest("created_at"), gatehouse.SortName, order{key: "name", text: true})
)

// col is the key as ordered and compared: text by code point.
func (o order) col(db *DB) string {
	if o.text {
		return o.key + db.d.codePoint
	}
	return o.key
}

// ranks are a nullable key's rank when present and when NULL: NULLs
// last in the order's direction.
func (o order) ranks() (present, null int) {
	if o.desc {
		return 1, 0
	}
	return 0, 1
}

// rank is the term that puts a nullable key's NULLs last.
func (o order) rank() string {
	p, n := o.ranks()
	return fmt.Sprintf(`CASE WHEN %s IS NULL THEN %d ELSE %d END`, o.key, n, p)
}

// by is the ORDER BY list, tie broken by id.
func (o order) by(db *DB, id string) string {
	dir := ` ASC`
	if o.desc {
		dir = ` DESC`
	}
	s := o.col(db) + dir + `, ` + id + dir
	if o.nullable {
		s = o.rank() + dir + `, ` + s
	}
	return s
}

// after is the condition that a row comes strictly after c in the order;
// arg adds an argument and returns its number.
func (o order) after(db *DB, arg func(any) int, c *gatehouse.Cursor, id string) string {
	op := `>`
	if o.desc {
		op = `<`
	}
	if o.nullable {
		present, null := o.ranks()
		if c.Null { // the rest of the NULLs, which come last
			return fmt.Sprintf(`(%s = %d AND %s IS NULL AND %s %s $%d)`, o.rank(), null, o.key, id, op, arg(c.ID))
		}
		// A NULL key's row is decided by its rank, the first term.
		return fmt.Sprintf(`(%s, %s, %s) %s (%d, $%d, $%d)`, o.rank(), o.key, id, op, present, arg(db.d.time(c.Time)), arg(c.ID))
	}
	var k any = db.d.time(c.Time)
	if o.text {
		k = c.Text
	}
	return fmt.Sprintf(`(%s, %s) %s ($%d, $%d)`, o.col(db), id, op, arg(k), arg(c.ID))
}
