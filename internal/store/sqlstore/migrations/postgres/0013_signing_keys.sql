-- Signing keys of OpenID Connect ID tokens and JWT access tokens (issue
-- 15): one key set per issuer (GATEHOUSE_PUBLIC_URL), rotated by the
-- janitor. The private key is sealed with the server key (AES-GCM, the kid
-- as additional data), never stored in the clear. (issuer, generation) is
-- unique: two nodes rotating at once store one key. Paired with
-- migrations/sqlite/0013_signing_keys.sql.

-- +goose Up
CREATE TABLE signing_keys (
    id           text PRIMARY KEY,
    issuer       text NOT NULL,
    generation   integer NOT NULL,
    alg          text NOT NULL,
    sealed       bytea NOT NULL,
    public_jwk   text NOT NULL,
    created_at   timestamptz NOT NULL,
    use_after    timestamptz NOT NULL,
    retire_at    timestamptz,
    remove_after timestamptz,
    UNIQUE (issuer, generation)
);
CREATE INDEX signing_keys_remove_after ON signing_keys (remove_after);

-- +goose Down
DROP TABLE signing_keys;
