-- The convergence policy's state (JSON) and its latest prediction, so a restarted conductor
-- carries on with the same ramp step, stall window and escalation.
ALTER TABLE migrations ADD COLUMN policy VARCHAR(2000);
ALTER TABLE migrations ADD COLUMN eta_ms BIGINT NOT NULL DEFAULT -1;
ALTER TABLE migrations ADD COLUMN predicted_downtime_ms BIGINT NOT NULL DEFAULT -1;
