-- Delivery: one outbox for every channel (text messages, e-mail, letters), drained by the
-- delivery worker (services/delivery). Keep in step with the other backend's 0005.
--
-- A message is queued → sent, or → dead after its last failed try (an operator may queue
-- it again or discard it). `claimed_until_ms` is the lease of the instance sending it:
-- while it lies in the future no other instance takes the message. Times ending in `_ms`
-- are unix milliseconds (backoff needs finer steps than seconds); the others are seconds.

CREATE TABLE outbox (
    id                BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel           TEXT    NOT NULL CHECK (channel IN ('sms', 'email', 'letter')),
    idempotency_key   TEXT    NOT NULL UNIQUE,
    recipient         TEXT    NOT NULL,
    body_sealed       BYTEA   NOT NULL,
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
CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);
CREATE INDEX outbox_channel_id ON outbox (channel, id);

-- Messages queued before delivery existed were read in the demo inbox only; they stay
-- readable there but are never sent (their codes expired long ago).
INSERT INTO outbox (channel, idempotency_key, recipient, body_sealed, purpose, lang, state,
                    attempts, next_attempt_ms, claimed_until_ms, last_error, created_at, sent_at)
SELECT 'sms', 'sms-legacy-' || id::text, recipient, body_sealed, purpose, 'nb', 'discarded',
       0, created_at * 1000, NULL, 'queued before delivery existed', created_at, NULL
FROM sms_outbox ORDER BY id;
INSERT INTO outbox (channel, idempotency_key, recipient, body_sealed, purpose, lang, state,
                    attempts, next_attempt_ms, claimed_until_ms, last_error, created_at, sent_at)
SELECT 'email', 'email-legacy-' || id::text, recipient, body_sealed, purpose, 'nb', 'discarded',
       0, created_at * 1000, NULL, 'queued before delivery existed', created_at, NULL
FROM email_outbox ORDER BY id;
DROP TABLE sms_outbox;
DROP TABLE email_outbox;

-- The language a person reads their notices in (nb, nn, en).
ALTER TABLE contacts ADD COLUMN lang TEXT NOT NULL DEFAULT 'nb';
