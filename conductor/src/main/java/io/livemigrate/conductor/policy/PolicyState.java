package io.livemigrate.conductor.policy;

/**
 * What the policy remembers between samples; persisted with the migration so a restarted conductor
 * carries on where the last one stopped.
 *
 * @param rampStep the last downtime-ramp step applied (-1 = none yet)
 * @param downtimeMs the max downtime currently in force
 * @param minRemaining the lowest remaining bytes seen
 * @param minAtMs when that minimum was seen (elapsed ms)
 * @param bandwidthEwma smoothed transfer rate, bytes/s (0 = no estimate yet)
 * @param escalation how many escalation steps were taken (recommended profile)
 * @param escalatedAtMs when the last escalation step was taken (elapsed ms)
 * @param finalAction set once a force-complete or abort was decided: nothing more is decided
 * @param escalatedAtIteration the memory iteration at which auto-converge was given its chance
 *     (recommended profile); -1 = not waiting for it
 */
public record PolicyState(
    int rampStep,
    int downtimeMs,
    long minRemaining,
    long minAtMs,
    double bandwidthEwma,
    int escalation,
    long escalatedAtMs,
    boolean finalAction,
    int escalatedAtIteration) {

  /** A state not waiting for auto-converge (the shape stored before it was tracked). */
  public PolicyState(
      int rampStep,
      int downtimeMs,
      long minRemaining,
      long minAtMs,
      double bandwidthEwma,
      int escalation,
      long escalatedAtMs,
      boolean finalAction) {
    this(
        rampStep,
        downtimeMs,
        minRemaining,
        minAtMs,
        bandwidthEwma,
        escalation,
        escalatedAtMs,
        finalAction,
        -1);
  }

  public static PolicyState initial(int initialDowntimeMs) {
    return new PolicyState(-1, initialDowntimeMs, Long.MAX_VALUE, 0, 0, 0, 0, false, -1);
  }
}
