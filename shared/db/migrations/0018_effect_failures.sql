-- 0018: an effect counts the calls that failed (issue 10). `attempts` counts claims, and a claim
-- whose worker died (killed, or Postgres lost before the record) is taken over with attempts + 1
-- although the upstream may never have refused anything; a bound on refusals (Discord's
-- `discord_max_attempts`) must count only calls that came back failed (shared/effects/outbox.py
-- SQL_RELEASE). Existing rows start at 0: their failures were not counted apart.

ALTER TABLE runtime.effects
    ADD COLUMN failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0);
