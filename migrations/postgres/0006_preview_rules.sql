-- Which pull requests of a repository get previews (JSON: target_branches, ignore_drafts,
-- labels_required, labels_excluded); NULL means the defaults.
ALTER TABLE repositories ADD COLUMN preview_rules TEXT;
