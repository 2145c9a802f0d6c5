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
  static final String VERSION = "1.0";

  private final Bus bus;
  private final String publisherId;
  private final Map<String, Long> seqs = new ConcurrentHashMap<>();

  Notifier(Bus bus, String publisherId) {
    this.bus = bus;
    this.publisherId = publisherId;
  }

  Future<Void> notify(String eventType, MigrationRow m, JsonObject extra) {
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
    if (m.reason != null) payload.put("reason", m.reason);
    if (extra != null) payload.mergeIn(extra);
    JsonObject n =
        new JsonObject()
            .put("event_type", eventType)
            .put("version", VERSION)
            .put("message_id", UUID.randomUUID().toString())
            .put("publisher_id", publisherId)
            .put("priority", eventType.endsWith("error") ? "ERROR" : "INFO")
            .put("timestamp", Instant.now().toString())
            .put("seq", seq)
            .put("payload", payload);
    if (m.status.isFinal()) seqs.remove(m.uuid);
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
