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
// ORDER BY and LIMIT on (created, id).
func (l *listQuery) page(p gatehouse.PageQuery, created, id string) string {
	if c := p.After; c != nil {
		t, i := l.arg(l.db.d.time(c.Time)), l.arg(c.ID)
		l.where = append(l.where, fmt.Sprintf(`(%s, %s) < ($%d, $%d)`, created, id, t, i))
	}
	s := `WHERE ` + strings.Join(l.where, ` AND `) + fmt.Sprintf(` ORDER BY %s DESC, %s DESC`, created, id)
	if p.Limit > 0 {
		s += fmt.Sprintf(` LIMIT $%d`, l.arg(p.Limit))
	}
	return s
}
