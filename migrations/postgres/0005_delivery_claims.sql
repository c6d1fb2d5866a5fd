-- When a worker claimed a delivery, so that a claim left by a worker that died can be released.
ALTER TABLE deliveries ADD COLUMN claimed_at_ms BIGINT;
