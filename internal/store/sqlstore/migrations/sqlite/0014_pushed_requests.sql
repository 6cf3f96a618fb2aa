-- Pushed authorization requests (RFC 9126, issue 15). Paired with
-- migrations/postgres/0014_pushed_requests.sql.

-- +goose Up
-- RFC 9126 §6: the app accepts authorization requests only when pushed.
ALTER TABLE oauth_clients ADD COLUMN require_pushed_authorization_requests INTEGER NOT NULL DEFAULT 0;

-- A pushed request by the SHA-256 of its request_uri. params is the
-- authorization request, form-encoded. expires_at is first the push's
-- expires_in; the first presentation at the authorization endpoint
-- (opened_at) moves it to the end of the login and consent round trip.
-- used_at is set once, when the user decides (RFC 9126 §4: one-time use);
-- the row is kept until it expires, so a replay is recognised.
CREATE TABLE oauth_pushed_requests (
    hash       BLOB    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    params     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    opened_at  INTEGER,
    used_at    INTEGER,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX oauth_pushed_requests_client ON oauth_pushed_requests (tenant_id, client_id);
CREATE INDEX oauth_pushed_requests_expires_at ON oauth_pushed_requests (expires_at);

-- +goose Down
DROP TABLE oauth_pushed_requests;
ALTER TABLE oauth_clients DROP COLUMN require_pushed_authorization_requests;
