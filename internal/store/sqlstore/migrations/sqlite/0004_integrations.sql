-- Magento-style integrations and the OAuth 1.0a provider (issue 5, seed
-- 000, SPEC §5). Paired with migrations/postgres/0004_integrations.sql.

-- +goose Up
-- An OAuth 1.0a consumer of one tenant. consumer_key is unique across
-- tenants (the OAuth 1.0a endpoints find the integration, and so the
-- tenant, by it). consumer_secret is sealed (AES-GCM): HMAC signatures need
-- the plaintext, so it cannot be hashed. resources are space-separated
-- resource ids (Resource Access: Custom). verifier_hash is the SHA-256 of
-- the oauth_verifier of the latest activation POST, until exchanged.
CREATE TABLE integrations (
    id                TEXT    NOT NULL PRIMARY KEY,
    tenant_id         TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    email             TEXT    NOT NULL DEFAULT '',
    callback_url      TEXT    NOT NULL DEFAULT '',
    identity_link_url TEXT    NOT NULL DEFAULT '',
    all_resources     INTEGER NOT NULL,
    resources         TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL CHECK (status IN ('inactive', 'pending', 'active')),
    consumer_key      TEXT    NOT NULL UNIQUE,
    consumer_secret   BLOB    NOT NULL,
    verifier_hash     BLOB,
    handshake_at      INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    -- The target of the (tenant_id, integration_id) foreign keys below, so
    -- a row can only belong to an integration of its own tenant; and the
    -- index of ListIntegrations.
    UNIQUE (tenant_id, id)
) STRICT;

-- OAuth 1.0a request tokens (RFC 5849 §2.1), by the SHA-256 of the token,
-- with the token secret sealed. A used token is kept (used_at set) so a
-- replay is recognised. Expired tokens are harmless (the provider checks
-- expires_at) and go with their integration.
CREATE TABLE oauth1_request_tokens (
    hash           BLOB    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    integration_id TEXT    NOT NULL,
    secret         BLOB    NOT NULL,
    expires_at     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    used_at        INTEGER,
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX oauth1_request_tokens_integration_id ON oauth1_request_tokens (tenant_id, integration_id);

-- Attempts to POST an integration's credentials to its callback URL.
-- seq orders attempts of the same time stably.
CREATE TABLE integration_deliveries (
    seq            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id             TEXT    NOT NULL UNIQUE,
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    integration_id TEXT    NOT NULL,
    time           INTEGER NOT NULL,
    url            TEXT    NOT NULL,
    status         INTEGER NOT NULL DEFAULT 0,
    error          TEXT    NOT NULL DEFAULT '',
    duration_us    INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX integration_deliveries_integration_id
    ON integration_deliveries (tenant_id, integration_id, time, seq);

-- Console notifications of a tenant. seq orders those of the same time
-- stably.
CREATE TABLE notifications (
    seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message    TEXT    NOT NULL,
    link       TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    read_at    INTEGER
) STRICT;

CREATE INDEX notifications_tenant_id ON notifications (tenant_id, created_at, seq);

-- The sealed token secret of an OAuth 1.0a access token (kind
-- integration); NULL for every other kind.
ALTER TABLE credentials ADD COLUMN secret BLOB;

-- +goose Down
ALTER TABLE credentials DROP COLUMN secret;
DROP TABLE notifications;
DROP TABLE integration_deliveries;
DROP TABLE oauth1_request_tokens;
DROP TABLE integrations;
