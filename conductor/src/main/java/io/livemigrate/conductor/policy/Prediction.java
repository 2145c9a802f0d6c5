package io.livemigrate.conductor.policy;

/**
 * What the policy expects from here.
 *
 * @param etaMs time to completion if nothing changes; -1 when pre-copy is not converging
 * @param expectedDowntimeMs the guest's pause at the switch-over, at the current max downtime
 * @param converging whether remaining bytes are expected to reach the switch-over threshold
 * @param fitsDeadline whether completion is expected before the completion timeout
 */
public record Prediction(
    long etaMs, long expectedDowntimeMs, boolean converging, boolean fitsDeadline) {}
