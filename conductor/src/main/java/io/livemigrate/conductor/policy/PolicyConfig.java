package io.livemigrate.conductor.policy;

/**
 * What the convergence policy may do for one migration: Nova's options plus ours.
 *
 * @param profile {@code default} (Nova: time-based downtime ramp, completion timeout only) or
 *     {@code recommended} (also stall detection and escalation as soon as the prediction says
 *     pre-copy cannot finish in time)
 * @param completionTimeoutS the migration's completion timeout in seconds (Nova's per-GiB formula
 *     already applied); 0 = none
 * @param timeoutAction {@code abort} or {@code force_complete}
 * @param downtimeMs {@code live_migration_downtime}: the ramp's last step
 * @param downtimeSteps {@code live_migration_downtime_steps}
 * @param downtimeDelayS {@code live_migration_downtime_delay}, seconds per GiB between steps
 * @param dataGb the data the migration moves, as Nova counts it
 * @param permitPostCopy the source host permits post-copy
 * @param permitAutoConverge the source host permits auto-converge (started with it)
 * @param stallWindowS no new minimum of remaining bytes for this long is a stall; 0 = off
 * @param graceS how long an escalation step is given to work before the next one
 * @param allowPause the recommended profile may pause the guest to finish (force-complete by pause)
 *     when post-copy is not permitted; otherwise it aborts
 */
public record PolicyConfig(
    String profile,
    long completionTimeoutS,
    String timeoutAction,
    int downtimeMs,
    int downtimeSteps,
    int downtimeDelayS,
    double dataGb,
    boolean permitPostCopy,
    boolean permitAutoConverge,
    long stallWindowS,
    long graceS,
    boolean allowPause) {

  public boolean recommended() {
    return "recommended".equals(profile);
  }
}
