-- +goose Up
-- Failed-login counters (issue 11): shared by every node of a database, so
-- the throttle holds across nodes. key is "pair:EMAIL|IP", "ip:IP" or
-- "email:EMAIL"; a window starts at its first counted attempt.
CREATE TABLE login_attempts (
    key          TEXT    NOT NULL PRIMARY KEY,
    n            INTEGER NOT NULL,
    window_start INTEGER NOT NULL
) STRICT;
CREATE INDEX login_attempts_window_start ON login_attempts (window_start);

-- Addresses an account last logged in from successfully: past the
-- per-account limit, these still may try.
CREATE TABLE login_addresses (
    email   TEXT    NOT NULL,
    ip      TEXT    NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (email, ip)
) STRICT;

-- +goose Down
DROP TABLE login_addresses;
DROP TABLE login_attempts;
