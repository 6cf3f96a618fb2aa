-- Lists page by keyset on (created_at, id), newest first (issue 14, SPEC
-- §9): each list's index leads with its tenant and ends with its order,
-- so a page is an index range scan however long the list is. The
-- credentials one (tenant_id, kind, created_at, id) also serves what
-- credentials_tenant_id_kind did, which it replaces. The janitor's
-- deletes of expired access tokens and idle sessions get theirs.
-- Paged deliveries use integration_deliveries_integration_id (0004).
-- Paired with migrations/postgres/0008_list_indexes.sql.

-- +goose Up
CREATE INDEX credentials_tenant_kind_created ON credentials (tenant_id, kind, created_at, id);
DROP INDEX credentials_tenant_id_kind;
CREATE INDEX memberships_tenant_created ON memberships (tenant_id, created_at, user_id);
CREATE INDEX oauth_clients_tenant_created ON oauth_clients (tenant_id, created_at, id);
CREATE INDEX integrations_tenant_created ON integrations (tenant_id, created_at, id);
CREATE INDEX credentials_kind_expires_at ON credentials (kind, expires_at);
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);

-- +goose Down
DROP INDEX sessions_last_seen_at;
DROP INDEX credentials_kind_expires_at;
DROP INDEX integrations_tenant_created;
DROP INDEX oauth_clients_tenant_created;
DROP INDEX memberships_tenant_created;
CREATE INDEX credentials_tenant_id_kind ON credentials (tenant_id, kind);
DROP INDEX credentials_tenant_kind_created;
