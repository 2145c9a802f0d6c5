package io.livemigrate.conductor.impl;

/** Nova's timeout arithmetic (nova/virt/libvirt/migration.py, driver.py), as pure functions. */
public final class Timeouts {
  private Timeouts() {}

  private static final double MIB_PER_GIB = 1024.0;

  /**
   * The data a migration moves, in GiB, as Nova counts it: RAM, plus each disk for block migration,
   * each counted as at least 2 GiB.
   */
  public static double dataGb(long memoryMb, long diskGb, boolean blockMigration) {
    double ram = Math.max(memoryMb / MIB_PER_GIB, 2.0);
    if (!blockMigration) return ram;
    return ram + Math.max((double) diskGb, 2.0);
  }

  /**
   * {@code live_migration_completion_timeout} scaled by the data: seconds, 0 = no timeout. Nova
   * truncates to whole seconds.
   */
  public static long completionTimeoutSeconds(long perGiB, double dataGb) {
    return (long) (perGiB * dataGb);
  }

  /**
   * The first step of Nova's downtime ramp ({@code downtime_steps}): the initial max downtime in
   * ms.
   */
  public static int initialDowntimeMs(int downtime, int steps) {
    return downtime / steps;
  }
}
