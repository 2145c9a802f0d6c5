package io.livemigrate.conductor;

import java.util.List;

/**
 * A compute host's capacity and what it permits, from its last report.
 *
 * @param sharedStorageWith hosts whose instance storage this host sees (empty = none or unknown)
 * @param limits what the host admits: allocation ratios and live-migration slots
 */
public record HostRow(
    String host,
    String hypervisorType,
    long hypervisorVersion,
    int vcpus,
    long memoryMb,
    long diskGb,
    boolean permitPostCopy,
    boolean permitAutoConverge,
    long updatedMs,
    List<String> sharedStorageWith,
    Limits limits) {

  /**
   * A host's allocation ratios (Nova's) and live-migration slots (0 inbound = unlimited, 0 outbound
   * = unlimited).
   */
  public record Limits(
      double cpuRatio, double ramRatio, double diskRatio, int maxInbound, int maxOutbound) {
    /** Nova's initial ratios, one outbound migration, unlimited inbound. */
    public static final Limits NOVA = new Limits(4.0, 1.0, 1.0, 0, 1);
  }

  public HostRow {
    sharedStorageWith = sharedStorageWith == null ? List.of() : List.copyOf(sharedStorageWith);
    limits = limits == null ? Limits.NOVA : limits;
  }
}
