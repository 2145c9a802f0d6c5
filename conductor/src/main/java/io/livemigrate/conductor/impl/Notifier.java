package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.conductor.store.MigrationRow;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes versioned notifications on the notifications exchange, routing key = event type,
 * ordered per migration by {@code seq}. A notification that cannot be published is logged, never
 * fails the migration.
 */
final class Notifier {
  private static final Logger LOG = LoggerFactory.getLogger(Notifier.class);

  /** The last event of a migration; its numbering ends with it. */
  static final String COMPLETED = "migration.completed";

  /**
   * Payload schema version per event type, as Nova versions each payload: the minor number grows
   * when fields are added (consumers ignore unknown fields), the major number when a field changes
   * meaning or goes away. Golden samples: docs/notifications/. A type not listed here cannot be
   * published, so a new event type has to be declared (and documented) first.
   */
  static final Map<String, String> VERSIONS =
      Map.ofEntries(
          Map.entry("migration.accepted", "1.0"),
          Map.entry("instance.live_migration_pre.start", "1.0"),
          Map.entry("instance.live_migration_pre.end", "1.0"),
          Map.entry("migration.progress", "1.1"),
          Map.entry("migration.decision", "1.0"),
          Map.entry("instance.live_migration_abort.start", "1.0"),
          Map.entry("instance.live_migration_abort.end", "1.0"),
          Map.entry("instance.live_migration_force_complete.start", "1.0"),
          Map.entry("instance.live_migration_force_complete.end", "1.0"),
          Map.entry("instance.live_migration_post.start", "1.0"),
          Map.entry("instance.live_migration_post_dest.start", "1.0"),
          Map.entry("instance.live_migration_post_dest.end", "1.0"),
          Map.entry("instance.live_migration_post.end", "1.0"),
          Map.entry("instance.live_migration_rollback.start", "1.0"),
          Map.entry("instance.live_migration_rollback_dest.start", "1.0"),
          Map.entry("instance.live_migration_rollback_dest.end", "1.0"),
          Map.entry("instance.live_migration_rollback.end", "1.0"),
          Map.entry(COMPLETED, "1.0"));

  private final Bus bus;
  private final String publisherId;
  private final Map<String, Long> seqs = new ConcurrentHashMap<>();

  Notifier(Bus bus, String publisherId) {
    this.bus = bus;
    this.publisherId = publisherId;
  }

  Future<Void> notify(String eventType, MigrationRow m, JsonObject extra) {
    String version = VERSIONS.get(eventType);
    if (version == null) throw new IllegalArgumentException("undeclared event type " + eventType);
    // Seeded from the clock so a restarted conductor keeps numbering upwards.
    long seq = seqs.merge(m.uuid, System.currentTimeMillis() * 1000, (a, b) -> a + 1);
    JsonObject payload =
        new JsonObject()
            .put("migration_uuid", m.uuid)
            .put("migration_id", m.id)
            .put("instance_uuid", m.instanceUuid)
            .put("source_compute", m.sourceCompute)
            .put("dest_compute", m.destCompute)
            .put("status", m.status.wire())
            .put("request_id", m.requestId);
    // Always present (null until the migration ends) so every event type has one key set.
    payload.put("reason", m.reason);
    if (extra != null) payload.mergeIn(extra);
    JsonObject n =
        new JsonObject()
            .put("event_type", eventType)
            .put("version", version)
            .put("message_id", UUID.randomUUID().toString())
            .put("publisher_id", publisherId)
            .put("priority", eventType.endsWith("error") ? "ERROR" : "INFO")
            .put("timestamp", Instant.now().toString())
            .put("seq", seq)
            .put("payload", payload);
    // Only after the last event: the rollback/post events of a final status still count upwards.
    if (COMPLETED.equals(eventType)) seqs.remove(m.uuid);
    return bus.publishJson(bus.topology().notifications(), eventType, n.getString("message_id"), n)
        .onFailure(
            e ->
                LOG.warn(
                    "[{}] [migration {}] notification {} not published: {}",
                    m.requestId,
                    m.uuid,
                    eventType,
                    e.toString()));
  }
}
