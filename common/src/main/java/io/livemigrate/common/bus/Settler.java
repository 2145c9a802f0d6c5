package io.livemigrate.common.bus;

import com.rabbitmq.client.AMQP;
import io.livemigrate.common.contract.Sender;
import io.vertx.rabbitmq.RabbitMQMessage;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Acks, nacks and parks deliveries, each only on the channel it came from: each (re)connect starts
 * a new consumer generation, and a delivery of an older one is left to the broker, which redelivers
 * it (the redelivery is then a duplicate and acked).
 */
final class Settler {
  /** The whole bus logs under one name, the facade's. */
  private static final Logger LOG = LoggerFactory.getLogger(Bus.class);

  private final BusConnection conn;
  private final Publisher publisher;
  private final Topology topology;
  private final BusMetrics metrics;
  private final Sender sender;
  private final String login;

  Settler(
      BusConnection conn,
      Publisher publisher,
      BusSettings settings,
      BusMetrics metrics,
      Sender sender) {
    this.conn = conn;
    this.publisher = publisher;
    this.topology = settings.topology();
    this.metrics = metrics;
    this.sender = sender;
    this.login = settings.login();
  }

  /** Whether {@code d} came on the channel the client uses now (else it must not be acked). */
  boolean current(Delivery d) {
    return !conn.closed()
        && d.sub().tag.equals(d.msg().consumerTag())
        && d.channel() == conn.channelInstance();
  }

  void ack(Delivery d) {
    if (!current(d)) {
      stale(d, "ack");
      return;
    }
    conn.client.basicAck(d.tag(), false);
  }

  void nack(Delivery d) {
    if (!current(d)) {
      stale(d, "nack");
      return;
    }
    conn.client.basicNack(d.tag(), false, true);
  }

  private void stale(Delivery d, String what) {
    if (conn.closed()) return;
    metrics.stale(d.sub().queue);
    LOG.info(
        "not {}ing delivery {} of {}: its channel is gone, the broker redelivers it",
        what,
        d.tag(),
        d.sub().queue);
  }

  /**
   * Moves a delivery to the parking queue, keeping its body, properties and headers, with the cause
   * and reason added as headers; acks it once the broker confirmed the parked copy.
   *
   * <p>{@code user_id} cannot be kept (the broker validates it against our login), so the original
   * goes into {@code x-original-user-id}; {@code livemigrate parked replay} puts it back.
   */
  void park(Delivery d, String cause, String reason) {
    Subscription s = d.sub();
    RabbitMQMessage m = d.msg();
    metrics.parked(s.queue, cause);
    LOG.warn("parking a message from {} ({}): {}", s.queue, cause, reason);
    AMQP.BasicProperties in = (AMQP.BasicProperties) m.properties();
    Map<String, Object> headers = new HashMap<>();
    if (in != null && in.getHeaders() != null) headers.putAll(in.getHeaders());
    headers.put("x-parked-reason", truncate(reason, 1000));
    headers.put("x-parked-cause", cause);
    headers.put("x-original-queue", s.queue);
    headers.put("x-original-exchange", m.envelope().getExchange());
    headers.put("x-original-routing-key", m.envelope().getRoutingKey());
    headers.put("x-parked-by", sender.service() + "@" + sender.host());
    headers.put("x-parked-at", Instant.now().toString());
    if (in != null && in.getUserId() != null) headers.put("x-original-user-id", in.getUserId());
    AMQP.BasicProperties.Builder b =
        (in == null ? new AMQP.BasicProperties.Builder() : in.builder())
            .deliveryMode(2)
            .headers(headers)
            .userId(login);
    if (in == null || in.getContentType() == null) b.contentType("application/octet-stream");
    publisher
        .confirmed(topology.parkingExchange(), s.queue, b.build(), m.body())
        .onComplete(
            ar -> {
              if (ar.failed()) {
                // Not parked: leave it with the broker rather than lose it.
                LOG.error("could not park a message from {}: {}", s.queue, ar.cause().toString());
                conn.vertx.setTimer(1000, t -> nack(d));
              } else {
                ack(d);
              }
            });
  }

  private static String truncate(String s, int max) {
    if (s == null) return "";
    return s.length() <= max ? s : s.substring(0, max);
  }
}
