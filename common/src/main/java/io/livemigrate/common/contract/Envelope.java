package io.livemigrate.common.contract;

import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * The JSON envelope every bus message travels in.
 *
 * <p>{@code id} is the idempotency key: a consumer that sees the same id twice does nothing the
 * second time. {@code seq} orders progress per migration; {@code requestId} is the API request that
 * caused the message, so every log line on every service can carry it.
 *
 * <p>{@code userId} is not part of the JSON: it is the broker-validated login of the connection
 * that published the message (AMQP {@code user_id}), set by the bus on receipt, so receivers can
 * check who may send what. Null where the broker did not say (a message published without it).
 *
 * <p>Version history: 1 - initial.
 */
public record Envelope(
    String type,
    int version,
    String id,
    String correlationId,
    String migrationId,
    String requestId,
    Long seq,
    String sentAt,
    Sender sender,
    String replyTo,
    JsonObject payload,
    String userId) {

  public static final int ENVELOPE_VERSION = 1;

  /** An envelope with no broker identity (one about to be published, or built by a test). */
  public Envelope(
      String type,
      int version,
      String id,
      String correlationId,
      String migrationId,
      String requestId,
      Long seq,
      String sentAt,
      Sender sender,
      String replyTo,
      JsonObject payload) {
    this(
        type,
        version,
        id,
        correlationId,
        migrationId,
        requestId,
        seq,
        sentAt,
        sender,
        replyTo,
        payload,
        null);
  }

  /** The same envelope as received from the broker under the given validated login. */
  public Envelope withUserId(String userId) {
    return new Envelope(
        type,
        version,
        id,
        correlationId,
        migrationId,
        requestId,
        seq,
        sentAt,
        sender,
        replyTo,
        payload,
        userId);
  }

  public Envelope {
    if (type == null || type.isBlank()) {
      throw new InvalidMessageException("envelope.type is missing");
    }
    if (id == null || id.isBlank()) {
      throw new InvalidMessageException("envelope.id is missing");
    }
    if (version < 1) {
      throw new InvalidMessageException("envelope.version must be >= 1");
    }
    if (sender == null) {
      throw new InvalidMessageException("envelope.sender is missing");
    }
    if (payload == null) {
      throw new InvalidMessageException("envelope.payload is missing");
    }
    Objects.requireNonNull(sentAt, "sentAt");
  }

  /** A new message of the given payload, with a fresh id and the current time. */
  public static Envelope of(Message payload, Sender sender) {
    return new Envelope(
        payload.messageType(),
        payload.messageVersion(),
        UUID.randomUUID().toString(),
        null,
        null,
        null,
        null,
        Instant.now().toString(),
        sender,
        null,
        Json.toJson(payload));
  }

  public Envelope withMigration(String migrationId, String requestId) {
    return new Envelope(
        type,
        version,
        id,
        correlationId,
        migrationId,
        requestId,
        seq,
        sentAt,
        sender,
        replyTo,
        payload,
        userId);
  }

  public Envelope withSeq(long seq) {
    return new Envelope(
        type,
        version,
        id,
        correlationId,
        migrationId,
        requestId,
        seq,
        sentAt,
        sender,
        replyTo,
        payload,
        userId);
  }

  public Envelope withReplyTo(String replyTo, String correlationId) {
    return new Envelope(
        type,
        version,
        id,
        correlationId,
        migrationId,
        requestId,
        seq,
        sentAt,
        sender,
        replyTo,
        payload,
        userId);
  }

  /** A reply to this message: same migration and request, correlated to this message's id. */
  public Envelope reply(Message payload, Sender from) {
    return new Envelope(
        payload.messageType(),
        payload.messageVersion(),
        UUID.randomUUID().toString(),
        id,
        migrationId,
        requestId,
        null,
        Instant.now().toString(),
        from,
        null,
        Json.toJson(payload));
  }

  /** Decodes the payload into the record registered for this message's type. */
  public <T extends Message> T body(Class<T> type) {
    return Json.fromJson(payload, type);
  }

  public JsonObject toJson() {
    JsonObject o = new JsonObject().put("type", type).put("version", version).put("id", id);
    if (correlationId != null) o.put("correlationId", correlationId);
    if (migrationId != null) o.put("migrationId", migrationId);
    if (requestId != null) o.put("requestId", requestId);
    if (seq != null) o.put("seq", seq);
    o.put("sentAt", sentAt);
    o.put("sender", new JsonObject().put("service", sender.service()).put("host", sender.host()));
    if (replyTo != null) o.put("replyTo", replyTo);
    o.put("payload", payload);
    return o;
  }

  /**
   * Parses an envelope; any structural problem is an {@link InvalidMessageException}, which the bus
   * turns into a parked message.
   */
  public static Envelope fromJson(JsonObject o) {
    try {
      JsonObject s = o.getJsonObject("sender");
      Object seq = o.getValue("seq");
      if (seq != null && !(seq instanceof Number)) {
        throw new InvalidMessageException("envelope.seq must be a number");
      }
      return new Envelope(
          o.getString("type"),
          o.getInteger("version", 0),
          o.getString("id"),
          o.getString("correlationId"),
          o.getString("migrationId"),
          o.getString("requestId"),
          seq == null ? null : ((Number) seq).longValue(),
          o.getString("sentAt", Instant.now().toString()),
          s == null ? null : new Sender(s.getString("service"), s.getString("host")),
          o.getString("replyTo"),
          o.getJsonObject("payload"));
    } catch (ClassCastException | NullPointerException e) {
      throw new InvalidMessageException("malformed envelope: " + e.getMessage());
    }
  }
}
