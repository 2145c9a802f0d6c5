package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.integer;
import static io.livemigrate.common.config.Option.str;

/**
 * {@code [simulated]}: the host, link and guests of a simulated compute agent (the all-in-one's and
 * {@code serve compute-agent}'s default hypervisor).
 */
public final class SimulatedOptions {
  private SimulatedOptions() {}

  public static final Option SIM_LINK_MIBPS =
      integer(
          "simulated",
          "link_bandwidth_mibps",
          1024,
          1,
          1_000_000,
          "Usable link bandwidth of a simulated host, MiB/s.");
  public static final Option SIM_TICK_MS =
      integer("simulated", "tick_ms", 100, 1, 10_000, "Step of the simulated pre-copy model.");
  public static final Option SIM_VCPUS =
      integer("simulated", "vcpus", 16, 1, 100_000, "Physical CPUs a simulated host reports.");
  public static final Option SIM_MEMORY_MB =
      integer(
          "simulated", "memory_mb", 32768, 1, 1L << 40, "Memory a simulated host reports, MiB.");
  public static final Option SIM_DISK_GB =
      integer(
          "simulated", "disk_gb", 500, 0, 1L << 30, "Local disk a simulated host reports, GiB.");
  public static final Option SIM_GUESTS =
      str(
          "simulated",
          "guests",
          "",
          "Guests running on a simulated host at start: name:key=value,...;name:... with keys"
              + " uuid (default: derived from the name), vcpus (1), memory_mb (2048), disk_gb (20),"
              + " project (admin), user (admin), flavor (m1.small), dirty_rate_mibps (0),"
              + " working_set_mib (0 = a quarter of memory).");
  public static final Option SIM_STATE_FILE =
      str(
          "simulated",
          "state_file",
          "",
          "Where a simulated host keeps its domains across agent restarts, as libvirtd keeps its"
              + " own (jobs are not kept); empty = a restart starts from the configured guests.");
  public static final Option SIM_FABRIC_DIR =
      str(
          "simulated",
          "fabric_dir",
          "",
          "Directory shared by the simulated hosts of one lab (one machine): a completed transfer"
              + " hands its guest to the destination through it, so the destination runs the guest"
              + " only once it arrived. Empty = this host is not linked, and its post-migration"
              + " trusts the conductor.");
  public static final Option SIM_GUESTS_FILE =
      str(
          "simulated",
          "guests_file",
          "",
          "File of more guests for a simulated host, one JSON object per line with the keys of"
              + " guests plus name, e.g. {\"name\": \"vm1\", \"memory_mb\": 2048}; # starts a"
              + " comment line.");
}
