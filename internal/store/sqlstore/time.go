package sqlstore

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// dbTime is the one type every time passes through on its way to and from
// the database. SQLite stores INTEGER unix microseconds; PostgreSQL stores
// timestamptz (which has microsecond precision). Writing truncates to the
// microsecond and converts to UTC, so what a caller writes and then reads
// back is equal.
type dbTime struct {
	Time  time.Time
	Valid bool // false is NULL
	unix  bool // write as unix microseconds (SQLite)
}

// normTime is t as the database keeps it: UTC, truncated to the microsecond.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// normTimePtr is normTime for optional times, keeping nil.
func normTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := normTime(*t)
	return &n
}

// time is the argument that writes t in this dialect.
func (d *dialect) time(t time.Time) dbTime {
	return dbTime{Time: t, Valid: true, unix: d.unixTime}
}

// timePtr is the argument that writes t, or NULL for nil.
func (d *dialect) timePtr(t *time.Time) dbTime {
	if t == nil {
		return dbTime{unix: d.unixTime}
	}
	return d.time(*t)
}

// Value implements driver.Valuer.
func (t dbTime) Value() (driver.Value, error) {
	if !t.Valid {
		return nil, nil
	}
	n := normTime(t.Time)
	if t.unix {
		return n.UnixMicro(), nil
	}
	return n, nil
}

// Scan implements sql.Scanner for both representations.
func (t *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = dbTime{}
	case int64:
		*t = dbTime{Time: time.UnixMicro(v).UTC(), Valid: true}
	case time.Time:
		*t = dbTime{Time: normTime(v), Valid: true}
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

// Ptr is the scanned time as an optional value.
func (t dbTime) Ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}

// stamp gives a new row its id (newID(prefix)) when *id is empty and its
// time (the store's clock) when *at is zero, normalised as every stored
// time is.
func stamp(id *string, prefix string, at *time.Time) {
	if *id == "" {
		*id = newID(prefix)
	}
	if at.IsZero() {
		*at = now()
	}
	*at = normTime(*at)
}
