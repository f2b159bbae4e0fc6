-- Account lifecycle: recovery letters, and no mobile number from the order form.
--
-- A letter may now go to a person who already has an account (a recovery letter);
-- registering with it replaces the devices or the password. The mobile number typed into
-- an order is no longer kept: whoever ordered first chose it, and it decided where the
-- registration code went. The number is now typed and proven at registration.
ALTER TABLE letters ADD COLUMN recovery BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE letters DROP COLUMN mobile;
ALTER TABLE orders DROP COLUMN mobile;
