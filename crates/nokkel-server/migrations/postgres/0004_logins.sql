-- Login transactions (one per login attempt; the challenge id is the login id) and the
-- replay cache for device request proofs. Keep in step with the other backend's 0004.

CREATE TABLE logins (
    id           TEXT   NOT NULL PRIMARY KEY,
    request_id   TEXT,
    pid          TEXT   NOT NULL REFERENCES people (pid),
    method       TEXT   NOT NULL CHECK (method IN ('app', 'sms')),
    service      TEXT   NOT NULL,
    browser      TEXT   NOT NULL,
    os           TEXT   NOT NULL,
    place        TEXT,
    number       BIGINT NOT NULL,
    pending      TEXT   NOT NULL,
    state        TEXT   NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'reported', 'wrong_number', 'expired', 'cancelled', 'completed')),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    decided_at   BIGINT,
    device_id    TEXT,
    uv           TEXT
);
CREATE INDEX logins_pid_created ON logins (pid, created_at);
CREATE UNIQUE INDEX logins_one_pending_per_person ON logins (pid) WHERE state = 'pending';

CREATE TABLE proof_replay (
    device_id  TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, jti)
);
CREATE INDEX proof_replay_expires ON proof_replay (expires_at);
