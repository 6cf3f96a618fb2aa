-- Gatehouse schema, PostgreSQL dialect. Paired with migrations/sqlite/0001_init.sql:
-- every change is a new numbered file in both directories (append-only).
--
-- Tables are created unqualified, in the first schema of search_path, so a
-- deployment (or a test) can keep Gatehouse in a schema of its own.

-- +goose Up
CREATE TABLE tenants (
    id         text        NOT NULL PRIMARY KEY,
    slug       text        NOT NULL UNIQUE,
    name       text        NOT NULL,
    plan       text        NOT NULL,
    disabled   boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);

CREATE TABLE tenant_settings (
    tenant_id                    text    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    allow_anonymous_guest_access boolean NOT NULL,
    enhanced_security            boolean NOT NULL,
    oauth1_tokens_as_bearer      boolean NOT NULL,
    require_client_header        boolean NOT NULL
);

CREATE TABLE users (
    id            text        NOT NULL PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    password_hash text        NOT NULL DEFAULT '',
    locale        text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL
);

CREATE TABLE memberships (
    tenant_id  text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE credentials (
    id           text        NOT NULL PRIMARY KEY,
    tenant_id    text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind         text        NOT NULL,
    name         text        NOT NULL DEFAULT '',
    hash         bytea       NOT NULL UNIQUE,
    hint         text        NOT NULL DEFAULT '',
    user_id      text        REFERENCES users (id) ON DELETE CASCADE,
    client_id    text        NOT NULL DEFAULT '',
    grant_id     text        NOT NULL DEFAULT '',
    scopes       text        NOT NULL DEFAULT '',
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL
);

CREATE INDEX credentials_tenant_id_kind ON credentials (tenant_id, kind);
CREATE INDEX credentials_grant_id ON credentials (grant_id);
-- For RemoveMembership and the users foreign key cascade.
CREATE INDEX credentials_user_id ON credentials (user_id);

-- seq keeps entries in the order they were added, even within one microsecond.
CREATE TABLE allow_entries (
    seq           bigserial   NOT NULL PRIMARY KEY,
    id            text        NOT NULL UNIQUE,
    credential_id text        NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    cidr          text        NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE INDEX allow_entries_credential_id ON allow_entries (credential_id, seq);

-- seq orders the log newest first, stably, and backs the Before cursor.
CREATE TABLE audit_events (
    seq       bigserial   NOT NULL PRIMARY KEY,
    id        text        NOT NULL UNIQUE,
    tenant_id text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    time      timestamptz NOT NULL,
    actor     text        NOT NULL DEFAULT '',
    action    text        NOT NULL,
    target    text        NOT NULL DEFAULT '',
    ip        text        NOT NULL DEFAULT ''
);

CREATE INDEX audit_events_tenant_id_seq ON audit_events (tenant_id, seq);

CREATE TABLE consumed (
    namespace  text        NOT NULL,
    key        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, key)
);

CREATE INDEX consumed_expires_at ON consumed (expires_at);

CREATE TABLE sessions (
    id         text        NOT NULL PRIMARY KEY,
    hash       bytea       NOT NULL UNIQUE,
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  text        REFERENCES tenants (id) ON DELETE CASCADE,
    csrf_key   bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

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
