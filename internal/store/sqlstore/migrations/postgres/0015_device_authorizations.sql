-- Device authorization grant (issue 15, RFC 8628). Paired with
-- migrations/sqlite/0015_device_authorizations.sql.

-- +goose Up
-- One device authorization request, by the SHA-256 of its device code.
-- user_hash is the SHA-256 of the normalised user code, unique so that a
-- code names one request (an expired holder is replaced on creation).
-- interval_s grows by 5 on every slow_down (RFC 8628 §3.5). status is
-- pending, approved or denied; used_at is set once the tokens are issued.
CREATE TABLE device_authorizations (
    device_hash    bytea       NOT NULL PRIMARY KEY,
    user_hash      bytea       NOT NULL UNIQUE,
    tenant_id      text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id      text        NOT NULL,
    scopes         text        NOT NULL DEFAULT '',
    interval_s     integer     NOT NULL,
    status         text        NOT NULL DEFAULT 'pending',
    user_id        text        NOT NULL DEFAULT '',
    grant_id       text        NOT NULL DEFAULT '',
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    last_polled_at timestamptz,
    decided_at     timestamptz,
    used_at        timestamptz,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id) ON DELETE CASCADE
);

-- For the oauth_clients foreign key cascade, and pruning.
CREATE INDEX device_authorizations_client ON device_authorizations (tenant_id, client_id);
CREATE INDEX device_authorizations_expires_at ON device_authorizations (expires_at);

-- +goose Down
DROP TABLE device_authorizations;
