-- Notifications as message ids and arguments (issue 14): the console
-- renders message_id through its catalogue with args (a JSON object of
-- strings) in each reader's language. Rows stored before keep only their
-- English message and are shown as before. Paired with
-- migrations/postgres/0010_notification_messages.sql.

-- +goose Up
ALTER TABLE notifications ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN args TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE notifications DROP COLUMN args;
ALTER TABLE notifications DROP COLUMN message_id;
