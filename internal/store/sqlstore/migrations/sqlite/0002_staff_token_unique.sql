-- +goose Up
-- A staff user holds at most one live API token per tenant (seed 001:
-- Generate appears only while there is none). Enforced here so that two
-- concurrent Generate clicks cannot both succeed.
CREATE UNIQUE INDEX credentials_one_staff_token
    ON credentials (tenant_id, user_id)
    WHERE kind = 'staff' AND revoked_at IS NULL;

-- +goose Down
DROP INDEX credentials_one_staff_token;
