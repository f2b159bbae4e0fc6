-- Transfers: moving a person's eID to a new phone with the old phone at hand
-- (services/transfer.rs, docs/PROTOCOL.md § Transfer). Keep in step with the other
-- backend's 0007.
--
-- A transfer is started by the new phone → ready once the new phone has proved its key
-- → approved or refused by one of the person's devices; expires_at (10 minutes after the
-- start) bounds every step. The code is stored as its peppered hash only. `flow` holds
-- nokkel-core's pending (started) or ready (ready and after) transfer as JSON.

CREATE TABLE transfers (
    id                 TEXT    NOT NULL PRIMARY KEY,
    code_hash          BYTEA   NOT NULL,
    state              TEXT    NOT NULL CHECK (state IN ('started', 'ready', 'approved', 'refused')),
    flow               TEXT    NOT NULL,
    device_id          TEXT,
    device_name        TEXT,
    platform           TEXT,
    public_jwk         TEXT,
    uv_methods         TEXT,
    pid                TEXT,
    old_device_id      TEXT,
    old_device_retired BOOLEAN NOT NULL,
    created_at         BIGINT  NOT NULL,
    expires_at         BIGINT  NOT NULL,
    decided_at         BIGINT
);
CREATE INDEX transfers_code ON transfers (code_hash);
