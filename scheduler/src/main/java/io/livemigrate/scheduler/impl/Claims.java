package io.livemigrate.scheduler.impl;

import io.livemigrate.common.contract.SchedulerMessages.Claimed;
import io.livemigrate.common.contract.SchedulerMessages.InFlight;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The destinations held for migrations in flight, and what they count on their hosts (resources,
 * inbound and outbound slots). Claims are made when a destination is chosen and released when the
 * conductor says the migration ended; because such a message can be lost and the scheduler can
 * restart, the conductor's periodic {@link InFlight} snapshot, read from its store, is the truth:
 * {@link #sync} adds the claims the scheduler does not know and drops those whose migration is no
 * longer in flight. Single-threaded, like the scheduler.
 */
final class Claims {
  /**
   * A claim this young may be missing from a snapshot read just before it was made (the conductor
   * records the destination within milliseconds of the answer; the conductor's own check in the
   * store covers the rest).
   */
  static final long SNAPSHOT_GRACE_MS = 5_000;

  /** A destination held for one migration until the conductor releases it. */
  record Claim(
      String instanceUuid,
      String source,
      String dest,
      int vcpus,
      long memoryMb,
      long diskGb,
      boolean completed,
      long sinceMs) {}

  private final Map<String, Claim> claims = new HashMap<>();
  private final Function<String, HostState> hosts;
  private int inFlight;
  private long released;

  /**
   * @param hosts the host state by name, created on first use
   */
  Claims(Function<String, HostState> hosts) {
    this.hosts = hosts;
  }

  int inFlight() {
    return inFlight;
  }

  /** Claims dropped by a snapshot because their release never arrived. */
  long leaked() {
    return released;
  }

  int size() {
    return claims.size();
  }

  /** A new choice for an instance; a retry for the same instance replaces its earlier claim. */
  void claim(
      String instanceUuid,
      String source,
      String dest,
      int vcpus,
      long memoryMb,
      long diskGb,
      long nowMs) {
    drop(instanceUuid);
    add(new Claim(instanceUuid, source, dest, vcpus, memoryMb, diskGb, false, nowMs));
  }

  /** Ends the in-flight claim of an instance that is asked about again (a reschedule). */
  void replacedBy(String instanceUuid) {
    Claim previous = claims.get(instanceUuid);
    if (previous != null && !previous.completed()) drop(instanceUuid);
  }

  private void add(Claim c) {
    claims.put(c.instanceUuid(), c);
    HostState dest = hosts.apply(c.dest());
    dest.claimedVcpus += c.vcpus();
    dest.claimedMemoryMb += c.memoryMb();
    dest.claimedDiskGb += c.diskGb();
    if (!c.completed()) {
      dest.inbound++;
      hosts.apply(c.source()).outbound++;
      inFlight++;
    }
  }

  private void drop(String instanceUuid) {
    Claim c = claims.remove(instanceUuid);
    if (c == null) return;
    HostState d = hosts.apply(c.dest());
    d.claimedVcpus -= c.vcpus();
    d.claimedMemoryMb -= c.memoryMb();
    d.claimedDiskGb -= c.diskGb();
    if (!c.completed()) {
      d.inbound--;
      hosts.apply(c.source()).outbound--;
      inFlight--;
    }
  }

  /**
   * A migration ended. Its claim is released, except after a completed migration, where it stands
   * for the instance until the destination's next report includes it.
   */
  void release(String instanceUuid, String outcome, long nowMs) {
    Claim c = claims.get(instanceUuid);
    if (c == null || c.completed()) return;
    drop(instanceUuid);
    if ("completed".equals(outcome)) {
      add(
          new Claim(
              c.instanceUuid(),
              c.source(),
              c.dest(),
              c.vcpus(),
              c.memoryMb(),
              c.diskGb(),
              true,
              nowMs));
    }
  }

  /**
   * A host reported: a completed migration's claim becomes the instance itself once the destination
   * reports it; one never reported is dropped after {@code serviceDownTimeMs}.
   */
  void reported(HostState h, long nowMs, long serviceDownTimeMs) {
    for (Iterator<Claim> it = claims.values().iterator(); it.hasNext(); ) {
      Claim c = it.next();
      if (c.completed()
          && ((c.dest().equals(h.host) && h.instances.contains(c.instanceUuid()))
              || nowMs - c.sinceMs() > serviceDownTimeMs)) {
        it.remove();
        HostState d = hosts.apply(c.dest());
        d.claimedVcpus -= c.vcpus();
        d.claimedMemoryMb -= c.memoryMb();
        d.claimedDiskGb -= c.diskGb();
      }
    }
  }

  /**
   * The conductor's snapshot of what is in flight: claims it has and this scheduler lacks are made
   * (after a restart), in-flight claims it lacks are dropped once older than {@link
   * #SNAPSHOT_GRACE_MS} (their migration ended and the release was lost; a younger one may have
   * been made after the snapshot was read). Ages are by this scheduler's clock only.
   */
  void sync(InFlight snapshot, long nowMs) {
    Set<String> listed = new HashSet<>();
    for (Claimed m : snapshot.migrations()) {
      listed.add(m.instanceUuid());
      Claim known = claims.get(m.instanceUuid());
      if (known != null && !known.completed() && known.dest().equals(m.destHost())) continue;
      drop(m.instanceUuid());
      add(
          new Claim(
              m.instanceUuid(),
              m.sourceHost(),
              m.destHost(),
              m.vcpus(),
              m.memoryMb(),
              m.diskGb(),
              false,
              nowMs));
    }
    for (Claim c : Map.copyOf(claims).values()) {
      if (c.completed() || listed.contains(c.instanceUuid())) continue;
      if (nowMs - c.sinceMs() > SNAPSHOT_GRACE_MS) {
        drop(c.instanceUuid());
        released++;
      }
    }
  }
}
