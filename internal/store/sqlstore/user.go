package sqlstore

import (
	"context"

	"github.com/gatehouse/gatehouse"
)

const userColumns = `id, email, password_hash, locale, time_zone, created_at`

// CreateUser stores u, assigning ID and CreatedAt when empty. A taken email
// is ECONFLICT.
func (db *DB) CreateUser(ctx context.Context, u *gatehouse.User) error {
	stamp(&u.ID, prefixUser, &u.CreatedAt)
	_, err := db.exec(ctx, "create user", processCrash,
		`INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		u.ID, u.Email, u.PasswordHash, u.Locale, u.TimeZone, db.d.time(u.CreatedAt))
	return wrap("create user", "user", err)
}

// FindUserByID returns the user with the given id.
func (db *DB) FindUserByID(ctx context.Context, id string) (*gatehouse.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	return u, wrap("find user", "user", err)
}

// FindUserByEmail returns the user with the given (normalised) email.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (*gatehouse.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	return u, wrap("find user", "user", err)
}

// UpdateUser saves PasswordHash, Locale and TimeZone.
func (db *DB) UpdateUser(ctx context.Context, u *gatehouse.User) error {
	res, err := db.exec(ctx, "update user", powerLoss,
		`UPDATE users SET password_hash = $2, locale = $3, time_zone = $4 WHERE id = $1`,
		u.ID, u.PasswordHash, u.Locale, u.TimeZone)
	return wrap("update user", "user", mustAffect(res, err))
}

func scanUser(s scanner) (*gatehouse.User, error) {
	var (
		u       gatehouse.User
		created dbTime
	)
	if err := s.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Locale, &u.TimeZone, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = created.Time
	return &u, nil
}
