-- Push: the phone wakes when a login waits (issue 11). Keep in step with the other
-- backend's 0009.
--
-- A device has at most one push registration: an FCM token, an APNs device token or a Web
-- Push subscription. It is a secret (whoever holds it can wake the phone), so it is kept
-- sealed with the server's key like outbox bodies; `kind` alone is in the clear.
CREATE TABLE push_registrations (
    device_id           TEXT    NOT NULL PRIMARY KEY REFERENCES devices (id),
    kind                TEXT    NOT NULL CHECK (kind IN ('fcm', 'apns', 'web_push')),
    registration_sealed BLOB    NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);

-- A revoked device is never woken again, whichever path revoked it (the device API, a
-- lifecycle block, a suspected clone, a transfer that retires the old phone, recovery):
-- the registration goes in the same statement that sets `revoked_at`.
CREATE TRIGGER push_registrations_revoked AFTER UPDATE OF revoked_at ON devices
WHEN NEW.revoked_at IS NOT NULL
BEGIN
    DELETE FROM push_registrations WHERE device_id = NEW.id;
END;

-- The outbox gains the push channel. SQLite cannot alter a CHECK constraint, so the table
-- is rebuilt with the same rows (ids kept, so AUTOINCREMENT continues past them).
CREATE TABLE outbox_new (
    id                INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    channel           TEXT    NOT NULL CHECK (channel IN ('sms', 'email', 'letter', 'push')),
    idempotency_key   TEXT    NOT NULL UNIQUE,
    recipient         TEXT    NOT NULL,
    body_sealed       BLOB    NOT NULL,
    purpose           TEXT    NOT NULL,
    lang              TEXT    NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN ('queued', 'sent', 'dead', 'discarded')),
    attempts          BIGINT  NOT NULL,
    next_attempt_ms   BIGINT  NOT NULL,
    claimed_until_ms  BIGINT,
    last_error        TEXT,
    created_at        BIGINT  NOT NULL,
    sent_at           BIGINT
);
INSERT INTO outbox_new (id, channel, idempotency_key, recipient, body_sealed, purpose, lang,
                        state, attempts, next_attempt_ms, claimed_until_ms, last_error,
                        created_at, sent_at)
SELECT id, channel, idempotency_key, recipient, body_sealed, purpose, lang, state, attempts,
       next_attempt_ms, claimed_until_ms, last_error, created_at, sent_at
FROM outbox ORDER BY id;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);
CREATE INDEX outbox_channel_id ON outbox (channel, id);
