package io.livemigrate.conductor;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.function.Function;

/**
 * The one place a migration becomes JSON: the API's migration views (server-scoped and {@code
 * /os-migrations}, per microversion), the progress notification's payload, and the post-mortem that
 * the API, the final notification and the drains show.
 */
public final class MigrationViews {
  private MigrationViews() {}

  private static final DateTimeFormatter NOVA_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS").withZone(ZoneOffset.UTC);

  /** The record kept of a migration: phases, bytes, downtime, actions, reason. */
  public static JsonObject postMortem(MigrationRow m) {
    return new JsonObject()
        .put("status", m.status.wire())
        .put("reason", m.reason)
        .put("message", m.message)
        .put("downtime_ms", m.downtimeMs)
        .put("iterations", m.iteration)
        .put("memory_total_bytes", m.memoryTotal)
        .put("memory_processed_bytes", m.memoryProcessed)
        .put("disk_total_bytes", m.diskTotal)
        .put("disk_processed_bytes", m.diskProcessed)
        .put("mode", m.mode)
        .put("actions", new JsonArray(List.copyOf(m.actions)))
        .put("phases", phases(m));
  }

  private static JsonObject phases(MigrationRow m) {
    return new JsonObject()
        .put("accepted_ms", m.createdMs)
        .put("queued_ms", m.queuedMs)
        .put("preparing_ms", m.preparingMs)
        .put("running_ms", m.runningMs)
        .put("postcopy_ms", m.postcopyMs)
        .put("post_migrating_ms", m.postMigratingMs)
        .put("finished_ms", m.finishedMs);
  }

  /** The prediction made before the first byte, or null when none was made. */
  public static JsonObject prediction(MigrationRow m) {
    if (m.plannedStrategy == null) return null;
    return new JsonObject()
        .put("strategy", m.plannedStrategy)
        .put("total_seconds", m.plannedTotalMs < 0 ? null : m.plannedTotalMs / 1000.0)
        .put("downtime_ms", m.plannedDowntimeMs < 0 ? null : m.plannedDowntimeMs)
        .put("reason", m.plannedReason)
        .put("detail", m.plannedDetail);
  }

  /** The payload of a {@code migration.progress} notification beyond the common keys. */
  public static JsonObject progress(MigrationRow m) {
    long net = m.bandwidth - m.dirtyRate;
    return new JsonObject()
        .put("memory_total_bytes", m.memoryTotal)
        .put("memory_processed_bytes", m.memoryProcessed)
        .put("memory_remaining_bytes", m.memoryRemaining)
        .put("disk_total_bytes", m.diskTotal)
        .put("disk_processed_bytes", m.diskProcessed)
        .put("disk_remaining_bytes", m.diskRemaining)
        .put("dirty_rate_bps", m.dirtyRate)
        .put("bandwidth_bps", m.bandwidth)
        .put("expected_downtime_ms", m.expectedDowntimeMs)
        // null while the guest dirties memory faster than the link copies it
        .put("eta_seconds", net > 0 ? (m.memoryRemaining + m.diskRemaining + net - 1) / net : null)
        .put("iteration", m.iteration)
        .put("mode", m.mode);
  }

  /**
   * A migration as Nova's API shows it, plus our own fields (the clients ignore unknown ones).
   *
   * @param minor the request's microversion (2.minor)
   * @param serverScoped {@code /servers/{id}/migrations} (true) or {@code /os-migrations}
   * @param links the Nova links of a path relative to the API root
   */
  public static JsonObject api(
      MigrationRow m, int minor, boolean serverScoped, Function<String, JsonArray> links) {
    JsonObject o =
        new JsonObject()
            .put("id", m.id)
            .put("source_compute", m.sourceCompute)
            .put("source_node", m.sourceCompute)
            .put("dest_compute", m.destCompute)
            .put("dest_node", m.destCompute)
            .put("dest_host", m.destCompute)
            .put("status", m.status.wire())
            .put("created_at", NOVA_TIME.format(Instant.ofEpochMilli(m.createdMs)))
            .put("updated_at", NOVA_TIME.format(Instant.ofEpochMilli(m.updatedMs)));
    if (serverScoped) {
      o.put("server_uuid", m.instanceUuid)
          .put("memory_total_bytes", m.memoryTotal)
          .put("memory_processed_bytes", m.memoryProcessed)
          .put("memory_remaining_bytes", m.memoryRemaining)
          .put("disk_total_bytes", m.diskTotal)
          .put("disk_processed_bytes", m.diskProcessed)
          .put("disk_remaining_bytes", m.diskRemaining);
    } else {
      o.put("instance_uuid", m.instanceUuid)
          // novaclient reads these on every version (AttributeError without them).
          .put("old_instance_type_id", null)
          .put("new_instance_type_id", null);
      if (minor >= 23) {
        o.put("migration_type", "live-migration");
        if (m.status.isInProgress()) {
          o.put("links", links.apply("servers/" + m.instanceUuid + "/migrations/" + m.id));
        }
      }
    }
    if (minor >= 59) o.put("uuid", m.uuid);
    o.put("reason", m.reason)
        .put("message", m.message)
        .put("mode", m.mode)
        .put("iteration", m.iteration)
        .put("dirty_rate_bytes_per_sec", m.dirtyRate)
        .put("bandwidth_bytes_per_sec", m.bandwidth)
        .put("expected_downtime_ms", m.expectedDowntimeMs)
        .put("downtime_ms", m.downtimeMs < 0 ? null : m.downtimeMs)
        // The conductor's own estimates (convergence policy), null until it has one.
        .put("eta_seconds", m.etaMs < 0 ? null : m.etaMs / 1000.0)
        .put("predicted_downtime_ms", m.predictedDowntimeMs < 0 ? null : m.predictedDowntimeMs)
        .put("source_agent_lost", m.sourceLost)
        .put("block_migration", m.blockMigration)
        .put("shared_storage", m.sharedStorage)
        .put("prediction", prediction(m));
    // The post-mortem: what the conductor did and when each phase began (also in the final
    // notification), so an operator reads why a migration took long without the logs.
    o.put("actions", new JsonArray(List.copyOf(m.actions))).put("phases", phases(m));
    if (!serverScoped) {
      o.put("memory_total_bytes", m.memoryTotal)
          .put("memory_processed_bytes", m.memoryProcessed)
          .put("memory_remaining_bytes", m.memoryRemaining);
    }
    return o;
  }
}
