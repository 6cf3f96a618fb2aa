-- +goose Up
-- Failed-login counters (issue 11): shared by every node of a database, so
-- the throttle holds across nodes. key is "pair:EMAIL|IP", "ip:IP" or
-- "email:EMAIL"; a window starts at its first counted attempt.
CREATE TABLE login_attempts (
    key          text        NOT NULL PRIMARY KEY,
    n            integer     NOT NULL,
    window_start timestamptz NOT NULL
);
CREATE INDEX login_attempts_window_start ON login_attempts (window_start);

-- Addresses an account last logged in from successfully: past the
-- per-account limit, these still may try.
CREATE TABLE login_addresses (
    email   text        NOT NULL,
    ip      text        NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (email, ip)
);

-- +goose Down
DROP TABLE login_addresses;
DROP TABLE login_attempts;
