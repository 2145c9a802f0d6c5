package io.livemigrate.common.bus;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.LongString;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.rabbitmq.RabbitMQClient;
import io.vertx.rabbitmq.RabbitMQMessage;
import io.vertx.rabbitmq.RabbitMQOptions;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The parking queue, for operators ({@code livemigrate parked list|replay|drop}): what is there and
 * why, and putting a message back where it was going (with its original properties and headers) or
 * removing it.
 *
 * <p>Messages are taken with manual acks and returned to the queue unless replayed or dropped, so a
 * listing never loses one. Call everything from one Vert.x context.
 */
public final class ParkedMessages {
  private final RabbitMQClient client;
  private final Topology topology;
  private final String login;
  private final long confirmTimeoutMs;

  /** The header a replayed message carries (the time of the replay). */
  public static final String REPLAYED = "x-replayed-at";

  /** Headers the bus adds when it parks; a replay removes them. */
  private static final List<String> PARKING_HEADERS =
      List.of(
          "x-parked-reason",
          "x-parked-cause",
          "x-original-queue",
          "x-original-exchange",
          "x-original-routing-key",
          "x-parked-by",
          "x-parked-at",
          "x-original-user-id");

  /**
   * One parked message.
   *
   * @param cause {@code undecodable}, {@code invalid}, {@code forbidden}, {@code handler_failed},
   *     {@code unroutable}, or for one the broker dead-lettered its reason (e.g. {@code
   *     delivery_limit})
   * @param exchange where a replay publishes it
   * @param routingKey with which key
   * @param userId the original sender's verified identity (null if unknown)
   */
  public record Parked(
      String id,
      String type,
      String cause,
      String reason,
      String queue,
      String exchange,
      String routingKey,
      String userId,
      String parkedBy,
      String parkedAt,
      Buffer body,
      AMQP.BasicProperties properties) {

    /** The body as text, for listing. */
    public String text() {
      return body.toString(StandardCharsets.UTF_8);
    }
  }

  private ParkedMessages(RabbitMQClient client, BusSettings s) {
    this.client = client;
    this.topology = s.topology();
    this.login = s.login();
    this.confirmTimeoutMs = s.confirmTimeoutMs();
  }

  public static Future<ParkedMessages> open(Vertx vertx, BusSettings s) {
    RabbitMQOptions o =
        new RabbitMQOptions()
            .setUri(s.url())
            .setConnectionName("livemigrate-parked")
            .setAutomaticRecoveryEnabled(false)
            .setAutomaticRecoveryOnInitialConnection(false)
            .setReconnectAttempts(0);
    ClientTls.apply(o, s);
    RabbitMQClient c = RabbitMQClient.create(vertx, o);
    return c.start().compose(v -> c.confirmSelect()).map(v -> new ParkedMessages(c, s));
  }

  /** Up to {@code max} parked messages, oldest first; all stay parked. */
  public Future<List<Parked>> list(int max) {
    List<RabbitMQMessage> taken = new ArrayList<>();
    return take(max, taken)
        .compose(
            v -> {
              List<Parked> out = new ArrayList<>();
              for (RabbitMQMessage m : taken) out.add(describe(m));
              return giveBack(taken).map(x -> out);
            });
  }

  /**
   * Publishes every parked message {@code which} selects to where it was going, with its original
   * properties and headers (the parking headers removed, {@code user_id} restored), and removes it
   * from the parking queue once the broker confirmed it. A {@code user_id} other than this login is
   * refused by the broker: replay with the original sender's credentials, or a user tagged {@code
   * impersonator}.
   *
   * @return the replayed messages
   */
  public Future<List<Parked>> replay(Predicate<Parked> which, int max) {
    return act(which, max, true);
  }

  /** Removes every parked message {@code which} selects. */
  public Future<List<Parked>> drop(Predicate<Parked> which, int max) {
    return act(which, max, false);
  }

  private Future<List<Parked>> act(Predicate<Parked> which, int max, boolean replay) {
    List<RabbitMQMessage> taken = new ArrayList<>();
    List<Parked> done = new ArrayList<>();
    return take(max, taken)
        .compose(
            v -> {
              Future<Void> f = Future.succeededFuture();
              List<RabbitMQMessage> keep = new ArrayList<>();
              for (RabbitMQMessage m : taken) {
                Parked p = describe(m);
                if (!which.test(p)) {
                  keep.add(m);
                  continue;
                }
                long tag = m.envelope().getDeliveryTag();
                f =
                    f.compose(
                        x ->
                            (replay ? publish(p) : Future.<Void>succeededFuture())
                                .compose(y -> client.basicAck(tag, false))
                                .onSuccess(y -> done.add(p)));
              }
              return f.compose(x -> giveBack(keep)).map(x -> done);
            });
  }

  private Future<Void> publish(Parked p) {
    Map<String, Object> headers = new HashMap<>();
    if (p.properties().getHeaders() != null) headers.putAll(p.properties().getHeaders());
    PARKING_HEADERS.forEach(headers::remove);
    headers.put(REPLAYED, java.time.Instant.now().toString());
    AMQP.BasicProperties props =
        p.properties().builder().headers(headers).userId(p.userId()).deliveryMode(2).build();
    return client
        .basicPublish(p.exchange(), p.routingKey(), props, p.body())
        .compose(v -> client.waitForConfirms(confirmTimeoutMs))
        .recover(
            e -> {
              Integer code = BusConnection.replyCode(e);
              if (code != null && code == 406 && p.userId() != null && !p.userId().equals(login)) {
                return Future.failedFuture(
                    new IllegalStateException(
                        "the broker refused to replay "
                            + p.id()
                            + " with user_id "
                            + p.userId()
                            + " for login "
                            + login
                            + ": replay with "
                            + p.userId()
                            + "'s credentials, or as a user tagged impersonator",
                        e));
              }
              return Future.failedFuture(e);
            });
  }

  private Future<Void> take(int max, List<RabbitMQMessage> into) {
    if (into.size() >= max) return Future.succeededFuture();
    return client
        .basicGet(topology.parkedQueue(), false)
        .compose(
            m -> {
              if (m == null) return Future.succeededFuture();
              into.add(m);
              return take(max, into);
            });
  }

  private Future<Void> giveBack(List<RabbitMQMessage> taken) {
    Future<Void> f = Future.succeededFuture();
    for (RabbitMQMessage m : taken) {
      long tag = m.envelope().getDeliveryTag();
      f = f.compose(v -> client.basicNack(tag, false, true));
    }
    return f;
  }

  private static Parked describe(RabbitMQMessage m) {
    AMQP.BasicProperties p = (AMQP.BasicProperties) m.properties();
    Map<String, Object> h = p.getHeaders() == null ? Map.of() : p.getHeaders();
    String cause = str(h.get("x-parked-cause"));
    String reason = str(h.get("x-parked-reason"));
    String queue = str(h.get("x-original-queue"));
    String exchange = str(h.get("x-original-exchange"));
    String key = str(h.get("x-original-routing-key"));
    String user = h.containsKey("x-original-user-id") ? str(h.get("x-original-user-id")) : null;
    if (cause == null && h.get("x-death") instanceof List<?> deaths && !deaths.isEmpty()) {
      // Dead-lettered by the broker (a quorum queue's delivery limit): it kept the properties.
      Map<?, ?> d = (Map<?, ?>) deaths.get(0);
      cause = str(d.get("reason"));
      queue = str(d.get("queue"));
      exchange = str(d.get("exchange"));
      reason = "dead-lettered by the broker from " + queue + " (" + cause + ")";
      if (d.get("routing-keys") instanceof List<?> keys && !keys.isEmpty()) key = str(keys.get(0));
      user = p.getUserId();
    }
    return new Parked(
        p.getMessageId(),
        p.getType(),
        cause == null ? "unknown" : cause,
        reason,
        queue,
        exchange == null ? "" : exchange,
        key == null ? queue : key,
        user,
        str(h.get("x-parked-by")),
        str(h.get("x-parked-at")),
        m.body(),
        p);
  }

  private static String str(Object o) {
    if (o == null) return null;
    if (o instanceof LongString l) return l.toString();
    if (o instanceof byte[] b) return new String(b, StandardCharsets.UTF_8);
    return o.toString();
  }

  public Future<Void> close() {
    return client.stop().recover(e -> Future.succeededFuture());
  }
}
