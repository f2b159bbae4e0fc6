-- Nøkkel schema, PostgreSQL tree. Keep in step with ../sqlite/0001_initial.sql:
-- the schema parity test (tests/store_schema.rs) compares both after migrating.
-- Portable types only: BIGINT (unix seconds, counters), TEXT, BYTEA, BOOLEAN.

CREATE TABLE people (
    pid          TEXT    NOT NULL PRIMARY KEY,
    given_name   TEXT    NOT NULL,
    family_name  TEXT    NOT NULL,
    birth_date   TEXT    NOT NULL,
    address_kind TEXT    NOT NULL CHECK (address_kind IN ('domestic', 'foreign', 'none')),
    address_line TEXT,
    postal_code  TEXT,
    city         TEXT,
    country      TEXT,
    status       TEXT    NOT NULL CHECK (status IN ('resident', 'd_number', 'emigrated', 'deceased')),
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

CREATE TABLE letters (
    id              TEXT    NOT NULL PRIMARY KEY,
    pid             TEXT    NOT NULL REFERENCES people (pid),
    code_hash       BYTEA   NOT NULL,
    code_sealed     BYTEA   NOT NULL,
    mobile          TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'used', 'locked', 'revoked')),
    failed_attempts BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    delivered_by    TEXT    NOT NULL,
    abroad          BOOLEAN NOT NULL,
    used_at         BIGINT
);
CREATE INDEX letters_pid_state ON letters (pid, state);
CREATE INDEX letters_created_at ON letters (created_at);

CREATE TABLE orders (
    id         BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pid        TEXT,
    client_ip  TEXT    NOT NULL,
    mobile     TEXT,
    created_at BIGINT  NOT NULL,
    outcome    TEXT    NOT NULL
);
CREATE INDEX orders_pid_created_at ON orders (pid, created_at);
CREATE INDEX orders_client_ip_created_at ON orders (client_ip, created_at);

CREATE TABLE accounts (
    pid            TEXT   NOT NULL PRIMARY KEY REFERENCES people (pid),
    kind           TEXT   NOT NULL CHECK (kind IN ('sms', 'app')),
    password_hash  TEXT,
    status         TEXT   NOT NULL CHECK (status IN ('active', 'blocked')),
    blocked_reason TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE contacts (
    pid                 TEXT   NOT NULL PRIMARY KEY REFERENCES people (pid),
    mobile              TEXT,
    mobile_confirmed_at BIGINT,
    email               TEXT,
    email_confirmed_at  BIGINT,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE sms_outbox (
    id          BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient   TEXT    NOT NULL,
    body_sealed BYTEA   NOT NULL,
    purpose     TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE email_outbox (
    id          BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient   TEXT    NOT NULL,
    body_sealed BYTEA   NOT NULL,
    purpose     TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE otp_challenges (
    id          TEXT   NOT NULL PRIMARY KEY,
    pid         TEXT   NOT NULL REFERENCES people (pid),
    purpose     TEXT   NOT NULL,
    code_hash   BYTEA  NOT NULL,
    attempts    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX otp_challenges_pid_purpose ON otp_challenges (pid, purpose);

CREATE TABLE audit_log (
    id        BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        BIGINT  NOT NULL,
    event     TEXT    NOT NULL,
    pid       TEXT,
    client_ip TEXT,
    detail    TEXT    NOT NULL
);
CREATE INDEX audit_log_pid_at ON audit_log (pid, at);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE rate_limits (
    key          TEXT   NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
