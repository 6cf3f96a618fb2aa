-- Device authorization grant (issue 15, RFC 8628). Paired with
-- migrations/postgres/0015_device_authorizations.sql.

-- +goose Up
-- One device authorization request, by the SHA-256 of its device code.
-- user_hash is the SHA-256 of the normalised user code, unique so that a
-- code names one request (an expired holder is replaced on creation).
-- interval_s grows by 5 on every slow_down (RFC 8628 §3.5). status is
-- pending, approved or denied; used_at is set once the tokens are issued.
CREATE TABLE device_authorizations (
    device_hash    BLOB    NOT NULL PRIMARY KEY,
    user_hash      BLOB    NOT NULL UNIQUE,
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id      TEXT    NOT NULL,
    scopes         TEXT    NOT NULL DEFAULT '',
    interval_s     INTEGER NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'pending',
    user_id        TEXT    NOT NULL DEFAULT '',
    grant_id       TEXT    NOT NULL DEFAULT '',
    expires_at     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    last_polled_at INTEGER,
    decided_at     INTEGER,
    used_at        INTEGER,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- For the oauth_clients foreign key cascade, and pruning.
CREATE INDEX device_authorizations_client ON device_authorizations (tenant_id, client_id);
CREATE INDEX device_authorizations_expires_at ON device_authorizations (expires_at);

-- +goose Down
DROP TABLE device_authorizations;
