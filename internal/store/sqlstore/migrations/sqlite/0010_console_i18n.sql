-- The console in every language (issue 14). Notifications become message
-- ids and arguments: the console renders message_id through its catalogue
-- with args (a JSON object of strings) in each reader's language; rows
-- stored before keep only their English message and are shown as before.
-- A user's time zone (an IANA name) shows console times in it; '' is the
-- browser's. Paired with migrations/postgres/0010_console_i18n.sql.

-- +goose Up
ALTER TABLE notifications ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN args TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE users DROP COLUMN time_zone;
ALTER TABLE notifications DROP COLUMN args;
ALTER TABLE notifications DROP COLUMN message_id;
