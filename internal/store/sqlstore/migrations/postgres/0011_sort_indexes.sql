-- Lists sort (issue 14): the credentials' orders by name, by expiry and by
-- last use each get an index that leads with the tenant and the kind and
-- holds the order's whole ORDER BY (see sqlstore's order: a nullable key
-- is preceded by its NULLs-last rank, one direction throughout), so a
-- page in any order is an index range scan. Apps and integrations sort
-- by name too. The orders by creation use 0008's indexes.
-- Names are indexed COLLATE "C", the order the lists use (by code point,
-- as SQLite).
-- Paired with migrations/sqlite/0011_sort_indexes.sql.

-- +goose Up
CREATE INDEX credentials_tenant_kind_name ON credentials (tenant_id, kind, name COLLATE "C", id);
CREATE INDEX credentials_tenant_kind_expires ON credentials
    (tenant_id, kind, (CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END), expires_at, id);
CREATE INDEX credentials_tenant_kind_last_used ON credentials
    (tenant_id, kind, (CASE WHEN last_used_at IS NULL THEN 0 ELSE 1 END), last_used_at, id);
CREATE INDEX oauth_clients_tenant_name ON oauth_clients (tenant_id, name COLLATE "C", id);
CREATE INDEX integrations_tenant_name ON integrations (tenant_id, name COLLATE "C", id);

-- +goose Down
DROP INDEX integrations_tenant_name;
DROP INDEX oauth_clients_tenant_name;
DROP INDEX credentials_tenant_kind_last_used;
DROP INDEX credentials_tenant_kind_expires;
DROP INDEX credentials_tenant_kind_name;
