package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.choice;
import static io.livemigrate.common.config.Option.integer;
import static io.livemigrate.common.config.Option.str;

import java.util.List;

/** {@code [compute]}: the compute agent and its hypervisor driver. */
public final class ComputeOptions {
  private ComputeOptions() {}

  public static final Option HYPERVISOR =
      choice(
          "compute",
          "hypervisor",
          "simulated",
          List.of("simulated", "libvirt"),
          "Hypervisor driver of this compute agent.");
  public static final Option PROGRESS_INTERVAL_MS =
      integer(
          "compute",
          "progress_interval_ms",
          1000,
          50,
          60_000,
          "Milliseconds between progress events of a running migration.");
  public static final Option STATE_DIR =
      str(
          "compute",
          "state_dir",
          "/var/lib/livemigrate/compute",
          "Where the agent journals its outbound migrations (start command, outcome until the"
              + " broker confirms it, its epoch), to re-attach to them after a restart and lose no"
              + " outcome. The all-in-one uses its data directory. Empty = no journal (not"
              + " recommended: a restarted agent then forgets its running migrations).");
  public static final Option PEERS =
      str(
          "compute",
          "peers",
          "",
          "Compute hosts this agent may migrate to or from (comma-separated), besides those named"
              + " in [libvirt] live_migration_inbound_addrs. Both empty = any well-formed host"
              + " name (the conductor's inventory is then the only check).");
}
