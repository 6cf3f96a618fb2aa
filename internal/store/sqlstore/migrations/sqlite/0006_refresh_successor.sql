-- +goose Up
-- The refresh token that replaced a rotated one (RotateRefreshToken): a
-- rotated token presented again within the grace period replaces its
-- successor only while that successor is unused, so a grant has one live
-- refresh token at a time (RFC 9700 §4.14.2).
ALTER TABLE credentials ADD COLUMN successor_id text;

-- +goose Down
ALTER TABLE credentials DROP COLUMN successor_id;
