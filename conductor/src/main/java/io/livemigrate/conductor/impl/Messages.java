package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.Topology;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.store.OutboxTable;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * The only code that writes messages: commands to compute agents and the scheduler (every command
 * carries the migration and request ids and asks for replies on the conductor's queue) and the
 * versioned notifications. Everything goes into the outbox of the transaction that caused it, so a
 * message exists exactly when the change that caused it committed.
 */
final class Messages {
  /** The last event of a migration. */
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
          Map.entry("instance.host_corrected", "1.0"),
          Map.entry("migration.reconciled", "1.0"),
          Map.entry(COMPLETED, "1.0"));

  /** How long the writer keeps its claim on an outbox row before any conductor may resend it. */
  static final long CLAIM_MS = 10_000;

  private final Topology topology;
  private final Sender sender;
  private final String publisherId;

  Messages(Topology topology, Sender sender) {
    this.topology = topology;
    this.sender = sender;
    this.publisherId = "conductor:" + sender.host();
  }

  Topology topology() {
    return topology;
  }

  Sender sender() {
    return sender;
  }

  /**
   * A command to a compute agent.
   *
   * @return the command's message id, which its reply carries as correlation id
   */
  String toCompute(StepContext c, String host, MigrationRow m, Message command) {
    return command(c, topology.computeQueue(host), m, command);
  }

  /** A command to the scheduler; returns its message id. */
  String toScheduler(StepContext c, MigrationRow m, Message command) {
    return command(c, topology.schedulerQueue(), m, command);
  }

  private String command(StepContext c, String queue, MigrationRow m, Message command) {
    Envelope env =
        Envelope.of(command, sender)
            .withMigration(m.uuid, m.requestId)
            .withReplyTo(topology.conductorQueue(), null);
    write(c, topology.commands(), queue, env, null);
    return env.id();
  }

  /** A message outside any migration (e.g. a service status to the scheduler). */
  void send(StepContext c, String queue, Envelope env) {
    write(c, topology.commands(), queue, env, null);
  }

  /**
   * A notification about a migration, numbered by the migration's own {@code notify_seq} (so the
   * order survives any conductor's death), in the outbox of the transaction.
   */
  void notify(StepContext c, String eventType, MigrationRow m, JsonObject extra) {
    JsonObject n = notification(eventType, m, extra);
    write(c, topology.notifications(), eventType, null, n);
  }

  /**
   * A notification that needs no guarantee (progress: the next one replaces it within a second),
   * published after the commit but not through the outbox.
   */
  void notifyBestEffort(StepContext c, String eventType, MigrationRow m, JsonObject extra) {
    JsonObject n = notification(eventType, m, extra);
    c.fx()
        .bestEffort
        .add(
            new Effects.Outgoing(
                n.getString("message_id"), topology.notifications(), eventType, null, n));
  }

  /** A notification about an instance outside any migration (e.g. its host corrected). */
  void notifyInstance(StepContext c, String eventType, JsonObject payload) {
    write(c, topology.notifications(), eventType, null, envelope(eventType, 0, payload));
  }

  private JsonObject notification(String eventType, MigrationRow m, JsonObject extra) {
    m.notifySeq++;
    JsonObject payload =
        new JsonObject()
            .put("migration_uuid", m.uuid)
            .put("migration_id", m.id)
            .put("instance_uuid", m.instanceUuid)
            .put("source_compute", m.sourceCompute)
            .put("dest_compute", m.destCompute)
            .put("status", m.status.wire())
            .put("request_id", m.requestId)
            // Always present (null until the migration ends) so every event type has one key set.
            .put("reason", m.reason);
    if (extra != null) payload.mergeIn(extra);
    return envelope(eventType, m.notifySeq, payload);
  }

  private JsonObject envelope(String eventType, long seq, JsonObject payload) {
    String version = VERSIONS.get(eventType);
    if (version == null) throw new IllegalArgumentException("undeclared event type " + eventType);
    return new JsonObject()
        .put("event_type", eventType)
        .put("version", version)
        .put("message_id", UUID.randomUUID().toString())
        .put("publisher_id", publisherId)
        .put("priority", eventType.endsWith("error") ? "ERROR" : "INFO")
        .put("timestamp", Instant.now().toString())
        .put("seq", seq)
        .put("payload", payload);
  }

  private void write(StepContext c, String exchange, String key, Envelope env, JsonObject json) {
    String id = env != null ? env.id() : json.getString("message_id");
    String body = env != null ? env.toJson().encode() : json.encode();
    c.tx()
        .outbox()
        .add(
            new OutboxTable.Row(
                id, exchange, key, env != null ? "envelope" : "json", body, c.now()),
            c.now() + CLAIM_MS);
    c.fx().outbox.add(new Effects.Outgoing(id, exchange, key, env, json));
  }
}
