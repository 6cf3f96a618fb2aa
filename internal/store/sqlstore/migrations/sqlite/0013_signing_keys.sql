-- Signing keys of OpenID Connect ID tokens and JWT access tokens (issue
-- 15): one key set per issuer (GATEHOUSE_PUBLIC_URL), rotated by the
-- janitor. The private key is sealed with the server key (AES-GCM, the kid
-- as additional data), never stored in the clear. (issuer, generation) is
-- unique: two nodes rotating at once store one key. Paired with
-- migrations/postgres/0013_signing_keys.sql.

-- +goose Up
CREATE TABLE signing_keys (
    id           TEXT PRIMARY KEY,
    issuer       TEXT NOT NULL,
    generation   INTEGER NOT NULL,
    alg          TEXT NOT NULL,
    sealed       BLOB NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    use_after    INTEGER NOT NULL,
    retire_at    INTEGER,
    remove_after INTEGER,
    UNIQUE (issuer, generation)
);
CREATE INDEX signing_keys_remove_after ON signing_keys (remove_after);

-- +goose Down
DROP TABLE signing_keys;
