-- 0019: an effect counts the calls the upstream answered with a rate limit apart from the calls
-- that failed (issue 10). A 429 is the upstream saying "come back after Retry-After", not a
-- failed call: counted among `failures`, three quick 429s dropped a NEEDS HUMAN notice in the
-- seed-1 soak at 300 repositories. Discord's bounds read both (functions/discord/usecase.py).
-- Existing rows start at 0: their rate limits were counted as failures.

ALTER TABLE runtime.effects
    ADD COLUMN rate_limited integer NOT NULL DEFAULT 0 CHECK (rate_limited >= 0);
