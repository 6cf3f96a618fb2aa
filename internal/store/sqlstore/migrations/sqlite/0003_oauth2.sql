-- OAuth 2.0 authorization server (issue 4, SPEC §5). Paired with
-- migrations/postgres/0003_oauth2.sql.

-- +goose Up
-- An app registered by a tenant. id is the client_id, unique across
-- tenants (the token endpoint finds the app before it knows the tenant).
-- redirect_uris is a JSON array of strings; scopes and grant_types are
-- space-separated words. Secrets are stored only as SHA-256.
CREATE TABLE oauth_clients (
    id                     TEXT    NOT NULL PRIMARY KEY,
    tenant_id              TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                   TEXT    NOT NULL,
    redirect_uris          TEXT    NOT NULL DEFAULT '[]',
    scopes                 TEXT    NOT NULL DEFAULT '',
    confidential           INTEGER NOT NULL,
    grant_types            TEXT    NOT NULL DEFAULT '',
    secret_hash            BLOB,
    secret_hint            TEXT    NOT NULL DEFAULT '',
    prev_secret_hash       BLOB,
    prev_secret_expires_at INTEGER,
    created_at             INTEGER NOT NULL,
    -- The target of the (tenant_id, client_id) foreign key below, and the
    -- index of ListClients.
    UNIQUE (tenant_id, id)
) STRICT;

-- A user's remembered consent to an app in a tenant. The app must be the
-- tenant's own: the foreign key includes tenant_id.
CREATE TABLE oauth_consents (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    scopes     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, client_id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- For the oauth_clients foreign key cascade.
CREATE INDEX oauth_consents_client_id ON oauth_consents (tenant_id, client_id);

-- Authorization codes, by the SHA-256 of the code. A used code is kept
-- (used_at set) until it expires, so a replay is recognised and the grant
-- it started can be revoked.
CREATE TABLE oauth_codes (
    hash           BLOB    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id      TEXT    NOT NULL,
    user_id        TEXT    NOT NULL DEFAULT '',
    redirect_uri   TEXT    NOT NULL DEFAULT '',
    scopes         TEXT    NOT NULL DEFAULT '',
    code_challenge TEXT    NOT NULL DEFAULT '',
    grant_id       TEXT    NOT NULL DEFAULT '',
    expires_at     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    used_at        INTEGER
) STRICT;

CREATE INDEX oauth_codes_expires_at ON oauth_codes (expires_at);

-- One row per OAuth 2.0 grant that has credentials (or was revoked before
-- it had any). Every write that adds a credential to a grant locks its row
-- and fails once revoked_at is set, and RevokeGrant sets it before it
-- revokes the credentials, so a token issued concurrently with the
-- revocation (a replayed code, a reused refresh token) cannot escape it.
CREATE TABLE oauth_grants (
    id         TEXT        NOT NULL PRIMARY KEY,
    tenant_id  TEXT        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_at INTEGER     NOT NULL,
    revoked_at INTEGER
) STRICT;

CREATE INDEX oauth_grants_tenant_id ON oauth_grants (tenant_id);

-- A refresh token replaced by RotateRefreshToken.
ALTER TABLE credentials ADD COLUMN rotated_at INTEGER;

-- For DeleteClient and DeleteConsent.
CREATE INDEX credentials_client_id ON credentials (tenant_id, client_id);

-- +goose Down
DROP INDEX credentials_client_id;
ALTER TABLE credentials DROP COLUMN rotated_at;
DROP TABLE oauth_grants;
DROP TABLE oauth_codes;
DROP TABLE oauth_consents;
DROP TABLE oauth_clients;
