-- Console sessions end after an idle timeout as well as at their absolute
-- expiry (issue 11, hole 17): last_seen_at is the session's last request,
-- written at most once a minute, and read by every node. Paired with
-- migrations/postgres/0007_session_last_seen.sql.

-- +goose Up
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;

-- +goose Down
ALTER TABLE sessions DROP COLUMN last_seen_at;
