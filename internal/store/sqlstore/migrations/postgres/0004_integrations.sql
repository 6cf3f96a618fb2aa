-- Magento-style integrations and the OAuth 1.0a provider (issue 5, seed
-- 000, SPEC §5). Paired with migrations/sqlite/0004_integrations.sql.

-- +goose Up
-- An OAuth 1.0a consumer of one tenant. consumer_key is unique across
-- tenants (the OAuth 1.0a endpoints find the integration, and so the
-- tenant, by it). consumer_secret is sealed (AES-GCM): HMAC signatures need
-- the plaintext, so it cannot be hashed. resources are space-separated
-- resource ids (Resource Access: Custom). verifier_hash is the SHA-256 of
-- the oauth_verifier of the latest activation POST, until exchanged.
CREATE TABLE integrations (
    id                text        NOT NULL PRIMARY KEY,
    tenant_id         text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name              text        NOT NULL,
    email             text        NOT NULL DEFAULT '',
    callback_url      text        NOT NULL DEFAULT '',
    identity_link_url text        NOT NULL DEFAULT '',
    all_resources     boolean     NOT NULL,
    resources         text        NOT NULL DEFAULT '',
    status            text        NOT NULL CHECK (status IN ('inactive', 'pending', 'active')),
    consumer_key      text        NOT NULL UNIQUE,
    consumer_secret   bytea       NOT NULL,
    verifier_hash     bytea,
    handshake_at      timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    -- The target of the (tenant_id, integration_id) foreign keys below, so
    -- a row can only belong to an integration of its own tenant; and the
    -- index of ListIntegrations.
    UNIQUE (tenant_id, id)
);

-- OAuth 1.0a request tokens (RFC 5849 §2.1), by the SHA-256 of the token,
-- with the token secret sealed. A used token is kept (used_at set) so a
-- replay is recognised. Expired tokens are harmless (the provider checks
-- expires_at) and go with their integration.
CREATE TABLE oauth1_request_tokens (
    hash           bytea       NOT NULL PRIMARY KEY,
    tenant_id      text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    integration_id text        NOT NULL,
    secret         bytea       NOT NULL,
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    used_at        timestamptz,
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX oauth1_request_tokens_integration_id ON oauth1_request_tokens (tenant_id, integration_id);

-- Attempts to POST an integration's credentials to its callback URL.
-- seq orders attempts of the same time stably.
CREATE TABLE integration_deliveries (
    seq            bigserial   NOT NULL PRIMARY KEY,
    id             text        NOT NULL UNIQUE,
    tenant_id      text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    integration_id text        NOT NULL,
    time           timestamptz NOT NULL,
    url            text        NOT NULL,
    status         integer     NOT NULL DEFAULT 0,
    error          text        NOT NULL DEFAULT '',
    duration_us    bigint      NOT NULL DEFAULT 0,
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX integration_deliveries_integration_id
    ON integration_deliveries (tenant_id, integration_id, time, seq);

-- Console notifications of a tenant. seq orders those of the same time
-- stably.
CREATE TABLE notifications (
    seq        bigserial   NOT NULL PRIMARY KEY,
    id         text        NOT NULL UNIQUE,
    tenant_id  text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message    text        NOT NULL,
    link       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    read_at    timestamptz
);

CREATE INDEX notifications_tenant_id ON notifications (tenant_id, created_at, seq);

-- The sealed token secret of an OAuth 1.0a access token (kind
-- integration); NULL for every other kind.
ALTER TABLE credentials ADD COLUMN secret bytea;

-- +goose Down
ALTER TABLE credentials DROP COLUMN secret;
DROP TABLE notifications;
DROP TABLE integration_deliveries;
DROP TABLE oauth1_request_tokens;
DROP TABLE integrations;
