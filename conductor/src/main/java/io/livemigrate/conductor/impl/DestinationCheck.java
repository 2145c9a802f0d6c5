package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.SchedulerMessages.Claimed;
import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.Usage;
import java.util.List;
import java.util.Optional;

/**
 * The conductor's own check of the scheduler's choice, against the store, with the destination's
 * row locked: the scheduler's claims live in its memory (lost when it restarts, not shared when
 * several run), the store's migrations do not. So a host is never given more than it admits, and a
 * source never runs more than its outbound limit, whatever the schedulers believe.
 */
final class DestinationCheck {
  private DestinationCheck() {}

  /** The verdict on one destination. */
  record Verdict(boolean fits, boolean waitForSource, String why) {
    static final Verdict FITS = new Verdict(true, false, null);

    static Verdict skip(String why) {
      return new Verdict(false, false, why);
    }

    static Verdict waitFor(String why) {
      return new Verdict(false, true, why);
    }
  }

  static Verdict check(StepContext c, MigrationRow m, String dest) {
    InstanceRow inst = c.tx().inventory().instance(m.instanceUuid).orElseThrow();
    List<Claimed> claimed = c.tx().migrations().claimedAt(m.sourceCompute, dest);
    Optional<HostRow> source = c.tx().inventory().host(m.sourceCompute);
    if (source.isPresent() && source.get().limits().maxOutbound() > 0) {
      long out =
          claimed.stream()
              .filter(x -> x.sourceHost().equals(m.sourceCompute))
              .filter(x -> !x.instanceUuid().equals(m.instanceUuid))
              .count();
      if (out >= source.get().limits().maxOutbound()) {
        return Verdict.waitFor(
            "Source host "
                + m.sourceCompute
                + " already runs "
                + out
                + " outbound live migrations (max_concurrent_live_migrations="
                + source.get().limits().maxOutbound()
                + ").");
      }
    }
    Optional<HostRow> locked = c.tx().inventory().lockHost(dest);
    if (locked.isEmpty()) return Verdict.skip("Compute host " + dest + " has not reported.");
    HostRow h = locked.get();
    Usage used =
        c.tx().inventory().usage(dest, false).stream().findFirst().orElse(Usage.none(dest));
    long cpu = used.vcpus();
    long mem = used.memoryMb();
    long disk = used.diskGb();
    int inbound = 0;
    for (Claimed x : claimed) {
      if (!x.destHost().equals(dest) || x.instanceUuid().equals(m.instanceUuid)) continue;
      cpu += x.vcpus();
      mem += x.memoryMb();
      disk += x.diskGb();
      inbound++;
    }
    HostRow.Limits l = h.limits();
    if (l.maxInbound() > 0 && inbound >= l.maxInbound()) {
      return Verdict.skip(
          "Host " + dest + " already takes " + inbound + " inbound live migrations.");
    }
    long needDisk = m.blockMigration ? inst.diskGb() : 0;
    if ((long) (h.memoryMb() * l.ramRatio()) - mem < inst.memoryMb()) {
      return Verdict.skip("Insufficient RAM on " + dest + " counting migrations in flight.");
    }
    if ((long) (h.diskGb() * l.diskRatio()) - disk < needDisk) {
      return Verdict.skip("Insufficient disk on " + dest + " counting migrations in flight.");
    }
    if ((long) (h.vcpus() * l.cpuRatio()) - cpu < inst.vcpus()) {
      return Verdict.skip("Insufficient vCPUs on " + dest + " counting migrations in flight.");
    }
    return Verdict.FITS;
  }
}
