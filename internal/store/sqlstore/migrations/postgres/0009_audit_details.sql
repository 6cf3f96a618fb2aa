-- The audit log people can use (issue 14): each event keeps its target's
-- id and its name at the time of the event, and its details (facts and
-- each changed field's old and new value, as JSON); the log is listed and
-- filtered newest first by (time, seq). Paired with
-- migrations/sqlite/0009_audit_details.sql.

-- +goose Up
ALTER TABLE audit_events ADD COLUMN target_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN target_name TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN details TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_events_tenant_id_time_seq ON audit_events (tenant_id, time, seq);

-- +goose Down
DROP INDEX audit_events_tenant_id_time_seq;
ALTER TABLE audit_events DROP COLUMN details;
ALTER TABLE audit_events DROP COLUMN target_name;
ALTER TABLE audit_events DROP COLUMN target_id;
