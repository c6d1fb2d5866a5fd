-- A removal in progress proves its replica alive, as a deploy attempt does: a removal whose
-- heartbeat is a few seconds old was left by a replica that stopped, and is taken over.
ALTER TABLE previews ADD COLUMN removal_heartbeat_ms BIGINT;
