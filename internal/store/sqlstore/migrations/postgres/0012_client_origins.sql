-- Browser apps as public clients (issue 15, CORS): the origins whose pages
-- may read an app's token and revocation answers, a JSON list like
-- redirect_uris; '[]' means the origins of its redirect URIs
-- (docs/cors.md). Paired with migrations/sqlite/0012_client_origins.sql.

-- +goose Up
ALTER TABLE oauth_clients ADD COLUMN allowed_origins text NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE oauth_clients DROP COLUMN allowed_origins;
