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
   * The scheduler's answer: hosts best first, and for every host it filtered out, why.
   *
   * <p>Version history: 1 - initial.
   */
  public record Destinations(List<String> hosts, Map<String, String> rejected) implements Message {
    public static final int VERSION = 1;

    public Destinations {
      hosts = hosts == null ? List.of() : List.copyOf(hosts);
      rejected = rejected == null ? Map.of() : Map.copyOf(rejected);
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
