package io.livemigrate.conductor.policy;

/**
 * One action the policy takes.
 *
 * @param action {@code set_downtime}, {@code force_complete} (with {@code mode} {@code postcopy} or
 *     {@code pause}), {@code abort} or {@code wait_auto_converge}
 * @param downtimeMs for {@code set_downtime}
 * @param reason why: {@code DOWNTIME_RAMP}, {@code COMPLETION_TIMEOUT}, {@code STALLED}, {@code
 *     PREDICTED_TIMEOUT}
 */
public record Decision(String action, String mode, int downtimeMs, String reason, String detail) {
  public static Decision setDowntime(int ms, String reason, String detail) {
    return new Decision("set_downtime", null, ms, reason, detail);
  }

  public static Decision forceComplete(String mode, String reason, String detail) {
    return new Decision("force_complete", mode, 0, reason, detail);
  }

  public static Decision abort(String reason, String detail) {
    return new Decision("abort", null, 0, reason, detail);
  }

  public static Decision waitAutoConverge(String detail) {
    return new Decision("wait_auto_converge", null, 0, "PREDICTED_TIMEOUT", detail);
  }

  @Override
  public String toString() {
    return action
        + (mode != null ? "(" + mode + ")" : "")
        + (downtimeMs > 0 ? "(" + downtimeMs + " ms)" : "")
        + " ["
        + reason
        + "] "
        + detail;
  }
}
