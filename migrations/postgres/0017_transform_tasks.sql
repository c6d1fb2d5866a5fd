-- The Redis task stream (`preview.tasks`), when Redis is configured: an execution due to run
-- is added to the stream once (`published_at_ms` says when); a retry, a requeue, a hand-back
-- or a stream Redis lost clears it, and it is added again when due.
ALTER TABLE transform_executions ADD COLUMN published_at_ms BIGINT;
