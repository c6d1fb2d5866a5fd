-- The GitHub delivery that queued a run: a delivery handled again (its outcome was lost with a
-- database connection) finds the run it queued instead of queuing another.
ALTER TABLE pipelines ADD COLUMN delivery_id TEXT;
CREATE UNIQUE INDEX pipelines_delivery ON pipelines (delivery_id);
