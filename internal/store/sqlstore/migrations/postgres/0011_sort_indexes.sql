-- Lists sort (issue 14): apps and integrations sort by name, each an
-- index range scan. The credentials' orders by name, expiry and last use
-- have no index of their own: OAuth access tokens are credentials too,
-- and three more indexes on every token issued cost client_credentials
-- issuance a third of its rate on SQLite (gatehouse bench, f/a 0.102 →
-- 0.069). Those orders read the tenant's and kind's range of 0008's index
-- and sort it (TestListsAtScale: first page well under 100 ms with 10 000
-- tokens). The orders by creation use 0008's indexes.
-- Names are indexed COLLATE "C", the order the lists use (by code point,
-- as SQLite).
-- Paired with migrations/sqlite/0011_sort_indexes.sql.

-- +goose Up
CREATE INDEX oauth_clients_tenant_name ON oauth_clients (tenant_id, name COLLATE "C", id);
CREATE INDEX integrations_tenant_name ON integrations (tenant_id, name COLLATE "C", id);

-- +goose Down
DROP INDEX integrations_tenant_name;
DROP INDEX oauth_clients_tenant_name;
