package io.livemigrate.common.contract;

import static io.livemigrate.common.contract.Checks.nonNegative;
import static io.livemigrate.common.contract.Checks.notBlank;

import java.util.List;
import java.util.Map;

/** Messages between the conductor and the scheduler. */
public final class SchedulerMessages {
  private SchedulerMessages() {}

  /**
   * Conductor asks for ranked destinations for one instance. With {@code requestedHost} set, only
   * that host is checked (the operator named it) and the reply says why it is refused, if it is.
   *
   * <p>Version history: 1 - initial.
   */
  public record SelectDestinations(
      String instanceUuid,
      String sourceHost,
      String requestedHost,
      int vcpus,
      long memoryMb,
      long diskGb,
      List<String> ignoreHosts)
      implements InstanceMessage {
    public static final int VERSION = 1;

    public SelectDestinations {
      notBlank(instanceUuid, "instanceUuid");
      notBlank(sourceHost, "sourceHost");
      nonNegative(vcpus, "vcpus");
      nonNegative(memoryMb, "memoryMb");
      nonNegative(diskGb, "diskGb");
      ignoreHosts = ignoreHosts == null ? List.of() : List.copyOf(ignoreHosts);
    }
  }

  /**
   * The scheduler's answer: hosts best first (the first one is claimed for the migration), and for
   * every host it filtered out, why. {@code waitReason} set means: nothing is wrong with the
   * request, but the source or the cluster is at its live-migration limit; ask again later.
   *
   * <p>Version history: 1 - initial. 2 - waitReason.
   */
  public record Destinations(List<String> hosts, Map<String, String> rejected, String waitReason)
      implements Message {
    public static final int VERSION = 2;

    public Destinations {
      hosts = hosts == null ? List.of() : List.copyOf(hosts);
      rejected = rejected == null ? Map.of() : Map.copyOf(rejected);
    }

    public Destinations(List<String> hosts, Map<String, String> rejected) {
      this(hosts, rejected, null);
    }

    public static Destinations waitFor(String reason) {
      return new Destinations(List.of(), Map.of(), reason);
    }
  }

  /**
   * Conductor tells the scheduler a migration ended, so the destination claimed for it is freed.
   * For a completed migration the claim turns into the instance on the destination once that host
   * reports it.
   *
   * @param outcome the final migration status ({@code completed}, {@code failed}, ...)
   *     <p>Version history: 1 - initial.
   */
  public record ReleaseClaim(String instanceUuid, String outcome) implements InstanceMessage {
    public static final int VERSION = 1;

    public ReleaseClaim {
      notBlank(instanceUuid, "instanceUuid");
      notBlank(outcome, "outcome");
    }
  }

  /**
   * Every live migration in flight as the conductor's store holds it: the destination each one
   * claims. Sent periodically to the scheduler, which rebuilds its claims from it after a restart
   * and drops any claim whose migration ended (a release that never arrived), so no slot leaks.
   *
   * <p>Version history: 1 - initial.
   *
   * @param asOfMs when the snapshot was read (the conductor's clock)
   */
  public record InFlight(long asOfMs, List<Claimed> migrations) implements Message {
    public static final int VERSION = 1;

    public InFlight {
      migrations = migrations == null ? List.of() : List.copyOf(migrations);
    }
  }

  /** One in-flight migration's claim: what it needs on its destination. */
  public record Claimed(
      String instanceUuid,
      String sourceHost,
      String destHost,
      int vcpus,
      long memoryMb,
      long diskGb) {
    public Claimed {
      notBlank(instanceUuid, "instanceUuid");
      notBlank(sourceHost, "sourceHost");
      notBlank(destHost, "destHost");
      nonNegative(vcpus, "vcpus");
      nonNegative(memoryMb, "memoryMb");
      nonNegative(diskGb, "diskGb");
    }
  }

  /**
   * The operator's view of a compute service, published by the conductor whenever it changes and at
   * start, so the scheduler never picks a disabled or forced-down host.
   *
   * <p>Version history: 1 - initial.
   */
  public record ServiceStatus(
      String host, boolean disabled, String disabledReason, boolean forcedDown) implements Message {
    public static final int VERSION = 1;

    public ServiceStatus {
      notBlank(host, "host");
    }
  }
}
