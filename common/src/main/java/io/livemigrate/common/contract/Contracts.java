package io.livemigrate.common.contract;

import io.livemigrate.common.contract.AgentCommands.AbortMigration;
import io.livemigrate.common.contract.AgentCommands.CleanupSource;
import io.livemigrate.common.contract.AgentCommands.ForceComplete;
import io.livemigrate.common.contract.AgentCommands.PostAtDestination;
import io.livemigrate.common.contract.AgentCommands.PrepareDestination;
import io.livemigrate.common.contract.AgentCommands.RollbackAtDestination;
import io.livemigrate.common.contract.AgentCommands.StartMigration;
import io.livemigrate.common.contract.AgentCommands.TuneMigration;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.MigrationCompleted;
import io.livemigrate.common.contract.AgentEvents.MigrationFailed;
import io.livemigrate.common.contract.AgentEvents.MigrationProgress;
import io.livemigrate.common.contract.AgentEvents.ServiceHeartbeat;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import java.lang.reflect.Field;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The registry of wire types: name, record class and version. Readers accept the current and the
 * previous version of each type, so a rolling upgrade can run one version apart.
 */
public final class Contracts {
  /** One registered contract. */
  public record Entry(String type, Class<? extends Message> cls, int version) {}

  private static final Map<String, Entry> BY_TYPE = new LinkedHashMap<>();
  private static final Map<Class<?>, Entry> BY_CLASS = new LinkedHashMap<>();

  static {
    register("select_destinations", SelectDestinations.class);
    register("destinations", Destinations.class);
    register("release_claim", SchedulerMessages.ReleaseClaim.class);
    register("service_status", SchedulerMessages.ServiceStatus.class);
    register("in_flight", SchedulerMessages.InFlight.class);
    register("prepare_destination", PrepareDestination.class);
    register("start_migration", StartMigration.class);
    register("abort_migration", AbortMigration.class);
    register("force_complete", ForceComplete.class);
    register("tune_migration", TuneMigration.class);
    register("post_at_destination", PostAtDestination.class);
    register("rollback_at_destination", RollbackAtDestination.class);
    register("cleanup_source", CleanupSource.class);
    register("service_heartbeat", ServiceHeartbeat.class);
    register("host_report", HostReport.class);
    register("step_result", StepResult.class);
    register("migration_progress", MigrationProgress.class);
    register("migration_completed", MigrationCompleted.class);
    register("migration_failed", MigrationFailed.class);
  }

  private Contracts() {}

  private static void register(String type, Class<? extends Message> cls) {
    int version;
    try {
      Field f = cls.getField("VERSION");
      version = f.getInt(null);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(cls + " lacks a public static VERSION", e);
    }
    Entry e = new Entry(type, cls, version);
    BY_TYPE.put(type, e);
    BY_CLASS.put(cls, e);
  }

  public static Map<String, Entry> all() {
    return Map.copyOf(BY_TYPE);
  }

  static String typeOf(Class<?> cls) {
    Entry e = BY_CLASS.get(cls);
    if (e == null) throw new IllegalStateException(cls + " is not a registered contract");
    return e.type();
  }

  static int versionOf(Class<?> cls) {
    return BY_CLASS.get(cls).version();
  }

  /**
   * Decodes and validates an envelope's payload.
   *
   * @throws InvalidMessageException for an unknown type, an unsupported version or a bad payload
   */
  public static Message decode(Envelope env) {
    Entry e = BY_TYPE.get(env.type());
    if (e == null) {
      throw new InvalidMessageException("unknown message type '" + env.type() + "'");
    }
    if (env.version() > e.version() || env.version() < e.version() - 1) {
      throw new InvalidMessageException(
          "unsupported version "
              + env.version()
              + " of "
              + env.type()
              + " (this reader takes "
              + Math.max(1, e.version() - 1)
              + ".."
              + e.version()
              + ")");
    }
    return Json.fromJson(env.payload(), e.cls());
  }
}
