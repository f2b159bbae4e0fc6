-- Push: the phone wakes when a login waits (issue 11). Keep in step with the other
-- backend's 0009.
--
-- A device has at most one push registration: an FCM token, an APNs device token or a Web
-- Push subscription. It is a secret (whoever holds it can wake the phone), so it is kept
-- sealed with the server's key like outbox bodies; `kind` alone is in the clear.
CREATE TABLE push_registrations (
    device_id           TEXT    NOT NULL PRIMARY KEY REFERENCES devices (id),
    kind                TEXT    NOT NULL CHECK (kind IN ('fcm', 'apns', 'web_push')),
    registration_sealed BYTEA   NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);

-- A revoked device is never woken again, whichever path revoked it (the device API, a
-- lifecycle block, a suspected clone, a transfer that retires the old phone, recovery):
-- the registration goes in the same statement that sets `revoked_at`.
CREATE FUNCTION push_registrations_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM push_registrations WHERE device_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER push_registrations_revoked AFTER UPDATE OF revoked_at ON devices
FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL)
EXECUTE FUNCTION push_registrations_revoked();

-- The outbox gains the push channel.
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check
    CHECK (channel IN ('sms', 'email', 'letter', 'push'));
