-- Gatehouse schema, SQLite dialect. Paired with migrations/postgres/0001_init.sql:
-- every change is a new numbered file in both directories (append-only).
--
-- Times are INTEGER unix microseconds in UTC. Tables are STRICT so a value of
-- the wrong type (a time written as text) is refused instead of stored.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT    NOT NULL PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    plan       TEXT    NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE tenant_settings (
    tenant_id                    TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    allow_anonymous_guest_access INTEGER NOT NULL,
    enhanced_security            INTEGER NOT NULL,
    oauth1_tokens_as_bearer      INTEGER NOT NULL,
    require_client_header        INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL DEFAULT '',
    locale        TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE memberships (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
) STRICT;

CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE credentials (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    hash         BLOB    NOT NULL UNIQUE,
    hint         TEXT    NOT NULL DEFAULT '',
    user_id      TEXT    REFERENCES users (id) ON DELETE CASCADE,
    client_id    TEXT    NOT NULL DEFAULT '',
    grant_id     TEXT    NOT NULL DEFAULT '',
    scopes       TEXT    NOT NULL DEFAULT '',
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX credentials_tenant_id_kind ON credentials (tenant_id, kind);
CREATE INDEX credentials_grant_id ON credentials (grant_id);
-- For RemoveMembership and the users foreign key cascade.
CREATE INDEX credentials_user_id ON credentials (user_id);

-- seq keeps entries in the order they were added, even within one microsecond.
CREATE TABLE allow_entries (
    seq           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id            TEXT    NOT NULL UNIQUE,
    credential_id TEXT    NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    cidr          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX allow_entries_credential_id ON allow_entries (credential_id, seq);

-- seq orders the log newest first, stably, and backs the Before cursor.
CREATE TABLE audit_events (
    seq       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id        TEXT    NOT NULL UNIQUE,
    tenant_id TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    time      INTEGER NOT NULL,
    actor     TEXT    NOT NULL DEFAULT '',
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL DEFAULT '',
    ip        TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_events_tenant_id_seq ON audit_events (tenant_id, seq);

CREATE TABLE consumed (
    namespace  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
) STRICT;

CREATE INDEX consumed_expires_at ON consumed (expires_at);

CREATE TABLE sessions (
    id         TEXT    NOT NULL PRIMARY KEY,
    hash       BLOB    NOT NULL UNIQUE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  TEXT    REFERENCES tenants (id) ON DELETE CASCADE,
    csrf_key   BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_tenant_id ON sessions (tenant_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
DROP TABLE consumed;
DROP TABLE audit_events;
DROP TABLE allow_entries;
DROP TABLE credentials;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE tenant_settings;
DROP TABLE tenants;
