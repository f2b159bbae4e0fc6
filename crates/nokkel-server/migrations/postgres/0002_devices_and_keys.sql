-- Devices (app users' authenticator keys) and the server's own signing keys.
-- Keep in step with the other backend's 0002 (schema parity test).

CREATE TABLE devices (
    id           TEXT   NOT NULL PRIMARY KEY,
    pid          TEXT   NOT NULL REFERENCES accounts (pid),
    public_jwk   TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    platform     TEXT   NOT NULL,
    uv_methods   TEXT   NOT NULL,
    counter      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX devices_pid ON devices (pid);

CREATE TABLE server_keys (
    kid         TEXT   NOT NULL PRIMARY KEY,
    purpose     TEXT   NOT NULL CHECK (purpose IN ('challenge', 'id_token')),
    key_sealed  BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL,
    active_from BIGINT NOT NULL,
    retired_at  BIGINT
);
CREATE INDEX server_keys_purpose ON server_keys (purpose, active_from);
