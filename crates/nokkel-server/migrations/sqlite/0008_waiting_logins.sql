-- Several app logins may wait for one person (nokkel_core::admission): a login from
-- another browser no longer cancels the person's pending one, so strangers who know the
-- identity number cannot keep cancelling the person's own login. Keep in step with the
-- other backend's 0008.
--
-- `address` is the client address a login came from, keyed as the limits key it (an
-- IPv6 /64): a new login replaces only the oldest waiting login from its own address.
ALTER TABLE logins ADD COLUMN address TEXT NOT NULL DEFAULT '';
DROP INDEX logins_one_pending_per_person;
CREATE INDEX logins_pending_per_person ON logins (pid) WHERE state = 'pending';
