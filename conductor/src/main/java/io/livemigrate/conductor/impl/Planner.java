package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.policy.MigrationPolicy;
import io.livemigrate.conductor.policy.PolicyConfig;
import io.livemigrate.conductor.policy.StartPrediction;
import java.util.Optional;

/**
 * The prediction before the first byte: from the guest's measured dirty rate and memory, the
 * source's permits and the bandwidth (the configured cap, else what the last migration from that
 * source measured), what the policy will do — pre-copy, auto-converge, post-copy, pause, or refuse
 * — and how long it takes. Stored on the migration and shown by the API; the operator sees it
 * before deciding to wait.
 */
final class Planner {
  private Planner() {}

  /** Which flags a transfer from this source gets: post-copy and auto-converge where permitted. */
  record Flags(boolean postCopy, boolean autoConverge) {}

  /**
   * Nova's rule: auto-converge only when post-copy is not enabled. The recommended profile uses
   * both (the throttle first, post-copy if it is not enough), to stay within the max downtime.
   */
  static Flags flags(ConductorSettings s, Optional<HostRow> source) {
    boolean postCopy = source.map(HostRow::permitPostCopy).orElse(false);
    boolean autoConverge = source.map(HostRow::permitAutoConverge).orElse(false);
    boolean recommended = "recommended".equals(s.policyProfile());
    return new Flags(postCopy, autoConverge && (recommended || !postCopy));
  }

  static void plan(StepContext c, MigrationRow m, InstanceRow inst) {
    ConductorSettings s = c.settings();
    Optional<HostRow> source = c.tx().inventory().host(m.sourceCompute);
    Flags f = flags(s, source);
    double dataGb = Timeouts.dataGb(inst.memoryMb(), inst.diskGb(), m.blockMigration);
    long timeoutS = Timeouts.completionTimeoutSeconds(s.completionTimeoutPerGiB(), dataGb);
    PolicyConfig cfg = PolicyRunner.config(s, timeoutS, dataGb, f.postCopy(), f.autoConverge());
    long data = inst.memoryToSend() + (m.blockMigration ? inst.diskGb() << 30 : 0);
    long dirty = inst.dirtyRateBps() == null ? 0 : inst.dirtyRateBps();
    long bandwidth =
        s.bandwidthMibps() > 0
            ? s.bandwidthMibps() << 20
            : c.tx().migrations().lastBandwidthFrom(m.sourceCompute);
    StartPrediction p = MigrationPolicy.predictBeforeStart(cfg, data, dirty, bandwidth);
    m.plannedStrategy = p.strategy();
    m.plannedTotalMs = p.totalMs();
    m.plannedDowntimeMs = p.downtimeMs();
    m.plannedReason = p.reason();
    m.plannedDetail =
        inst.dirtyRateBps() == null
            ? p.detail() + " (dirty rate not measured: 0 assumed)"
            : p.detail();
  }
}
