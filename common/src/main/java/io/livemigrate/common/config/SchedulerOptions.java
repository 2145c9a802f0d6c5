package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.decimal;
import static io.livemigrate.common.config.Option.integer;

/** {@code [scheduler]}: destination selection and cluster-wide limits. */
public final class SchedulerOptions {
  private SchedulerOptions() {}

  public static final Option CLUSTER_MAX_LIVE_MIGRATIONS =
      integer(
          "scheduler",
          "max_concurrent_live_migrations",
          0,
          0,
          100_000,
          "Live migrations in flight in the whole cluster (0 = unlimited); more wait queued.");
  public static final Option RAM_WEIGHT_MULTIPLIER =
      decimal("scheduler", "ram_weight_multiplier", 1.0, "Weight of free RAM (prefer emptier).");
  public static final Option CPU_WEIGHT_MULTIPLIER =
      decimal("scheduler", "cpu_weight_multiplier", 1.0, "Weight of free vCPUs.");
  public static final Option MIGRATION_WEIGHT_MULTIPLIER =
      decimal(
          "scheduler",
          "migration_weight_multiplier",
          1.0,
          "Weight of few in-flight migrations on a host (inbound + outbound).");
}
