package io.livemigrate.conductor.policy;

/**
 * What a migration is expected to do, predicted before it starts from the guest's measured dirty
 * rate, the data it has to send and the bandwidth.
 *
 * @param strategy {@code precopy} (converges on its own), {@code auto_converge} (only the throttle
 *     can make it converge), {@code postcopy} (the policy will switch to post-copy), {@code pause}
 *     (the policy will pause the guest to finish) or {@code refuse} (it cannot finish in time)
 * @param totalMs predicted time from start to completion; -1 = unknown
 * @param downtimeMs predicted pause of the guest at the switch-over; -1 = unknown
 * @param rounds pre-copy passes over memory the prediction counted (precopy only; else 0)
 * @param reason why this strategy: {@code CONVERGES}, {@code NOT_CONVERGING}, {@code
 *     PREDICTED_TIMEOUT} or {@code BANDWIDTH_UNKNOWN}
 * @param detail one line for the API: the figures the prediction used
 */
public record StartPrediction(
    String strategy, long totalMs, long downtimeMs, int rounds, String reason, String detail) {}
