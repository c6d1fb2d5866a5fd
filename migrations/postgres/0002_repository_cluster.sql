-- A repository may be pinned to one of the configured clusters by name; NULL means the default
-- cluster. A name no longer configured is reported when the repository's work is scheduled.
ALTER TABLE repositories ADD COLUMN cluster TEXT;
