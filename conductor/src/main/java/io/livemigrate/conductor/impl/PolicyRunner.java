package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.policy.MigrationPolicy;
import io.livemigrate.conductor.policy.PolicyConfig;
import io.livemigrate.conductor.policy.PolicyState;
import io.livemigrate.conductor.policy.Sample;
import io.vertx.core.json.JsonObject;

/**
 * Glue between a migration row and the pure {@link MigrationPolicy}: the policy's state and the
 * source's permits travel in the row's {@code policy} column (JSON), so a restarted conductor
 * carries on with the same ramp step, stall window and escalation.
 */
final class PolicyRunner {
  private PolicyRunner() {}

  /** The policy column for a transfer that starts now. */
  static String initial(
      ConductorSettings s, double dataGb, boolean postCopy, boolean autoConverge) {
    PolicyConfig c = config(s, 0, dataGb, postCopy, autoConverge);
    return encode(
        PolicyState.initial(MigrationPolicy.initialDowntimeMs(c)), dataGb, postCopy, autoConverge);
  }

  static PolicyConfig config(
      ConductorSettings s, long timeoutS, double dataGb, boolean postCopy, boolean autoConverge) {
    boolean recommended = "recommended".equals(s.policyProfile());
    long stall = s.stallWindowS() > 0 ? s.stallWindowS() : recommended ? 30 : 0;
    return new PolicyConfig(
        s.policyProfile(),
        timeoutS,
        s.timeoutAction(),
        s.downtimeMs(),
        s.downtimeSteps(),
        s.downtimeDelay(),
        dataGb,
        postCopy,
        autoConverge,
        stall,
        s.escalationGraceS(),
        s.permitPause());
  }

  /** Evaluates the row's latest progress and stores the new state and prediction in the row. */
  static MigrationPolicy.Result evaluate(ConductorSettings s, MigrationRow m, long nowMs) {
    JsonObject j = new JsonObject(m.policy);
    PolicyConfig c =
        config(
            s,
            m.completionTimeoutS,
            j.getDouble("data_gb"),
            j.getBoolean("post_copy"),
            j.getBoolean("auto_converge"));
    PolicyState st =
        new PolicyState(
            j.getInteger("ramp_step"),
            j.getInteger("downtime_ms"),
            j.getLong("min_remaining"),
            j.getLong("min_at_ms"),
            j.getDouble("bandwidth_ewma"),
            j.getInteger("escalation"),
            j.getLong("escalated_at_ms"),
            j.getBoolean("final"),
            j.getInteger("escalated_at_iteration", -1));
    Sample sample =
        new Sample(
            Math.max(0, nowMs - m.runningMs),
            m.memoryRemaining + m.diskRemaining,
            m.memoryProcessed + m.diskProcessed,
            m.memoryTotal + m.diskTotal,
            m.dirtyRate,
            m.bandwidth,
            m.iteration,
            m.mode == null ? "precopy" : m.mode);
    MigrationPolicy.Result r = MigrationPolicy.evaluate(c, st, sample);
    m.policy = encode(r.state(), c.dataGb(), c.permitPostCopy(), c.permitAutoConverge());
    m.finalAction = m.finalAction || r.state().finalAction();
    m.etaMs = r.prediction().etaMs();
    m.predictedDowntimeMs = r.prediction().expectedDowntimeMs();
    return r;
  }

  /**
   * Marks the final action as taken (the completion deadline took it): in the row, and in the
   * policy's own state so it does not take one more.
   */
  static void markDecided(MigrationRow m) {
    m.finalAction = true;
    if (m.policy != null) m.policy = new JsonObject(m.policy).put("final", true).encode();
  }

  private static String encode(PolicyState st, double dataGb, boolean postCopy, boolean ac) {
    return new JsonObject()
        .put("data_gb", dataGb)
        .put("post_copy", postCopy)
        .put("auto_converge", ac)
        .put("ramp_step", st.rampStep())
        .put("downtime_ms", st.downtimeMs())
        .put("min_remaining", st.minRemaining())
        .put("min_at_ms", st.minAtMs())
        .put("bandwidth_ewma", st.bandwidthEwma())
        .put("escalation", st.escalation())
        .put("escalated_at_ms", st.escalatedAtMs())
        .put("final", st.finalAction())
        .put("escalated_at_iteration", st.escalatedAtIteration())
        .encode();
  }
}
