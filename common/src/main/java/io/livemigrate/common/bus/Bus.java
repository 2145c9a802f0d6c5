package io.livemigrate.common.bus;

import com.rabbitmq.client.AMQP;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Sender;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.rabbitmq.RabbitMQMessage;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One service's connection to the broker, over vertx-rabbitmq-client.
 *
 * <p>Rules it keeps (see the README, "The bus: identities, delivery and TLS"):
 *
 * <ul>
 *   <li>Every client call runs on the context that created the bus: the client has one channel and
 *       races when called from elsewhere.
 *   <li>Topology is declared on every (re)connect. Under per-service identities only the conductor
 *       declares the shared exchanges (the others may not configure them).
 *   <li>Every publish carries {@code user_id} = the login, which the broker validates; on receipt
 *       {@link Envelope#userId()} is set from it and the subscription's {@link SenderCheck} decides
 *       whether the handler may see the message.
 *   <li>A publish is confirmed by the broker or fails within {@code confirm_timeout_ms}; confirms
 *       are tracked per channel, because the client silently replaces its channel.
 *   <li>A delivery is acked, nacked or parked only on the channel it came from: each (re)connect
 *       starts a new consumer generation, and a delivery of an older one is left to the broker,
 *       which redelivers it (the redelivery is then a duplicate and acked).
 *   <li>Undecodable, invalid, refused and repeatedly failing messages are parked with a reason,
 *       keeping their original properties, and counted; none kills the consumer. A message id
 *       handled before is acked and skipped.
 * </ul>
 *
 * <p>The parts, all package-private: {@code BusConnection} (the client, its context and
 * generations), {@code Declarations} (topology), {@code Publisher} and {@code Confirms}
 * (publishing), {@code Subscriptions}, {@code Dispatcher} and {@code Settler} (consuming).
 */
public final class Bus {
  private static final Logger LOG = LoggerFactory.getLogger(Bus.class);

  private final Topology topology;
  private final Sender sender;
  private final Identities identities;
  private final String login;
  private final boolean declaresShared;
  private final BusConnection conn;
  private final Declarations declarations;
  private final Publisher publisher;
  private final Subscriptions subscriptions;

  private Bus(Vertx vertx, BusSettings settings, Sender sender, MeterRegistry registry) {
    this.topology = settings.topology();
    this.sender = sender;
    BusMetrics metrics = new BusMetrics(registry, sender.service());
    this.login = settings.login();
    this.identities =
        Identities.resolve(settings.verifyIdentity(), settings.identityPrefix(), login, sender);
    this.declaresShared =
        !identities.verifying() || identities.conductor().equals(identities.of(sender));
    this.conn = new BusConnection(vertx, settings, sender, metrics);
    this.declarations = new Declarations(conn, settings, metrics, declaresShared);
    this.publisher = new Publisher(conn, settings, metrics);
    Settler settler = new Settler(conn, publisher, settings, metrics, sender);
    Dispatcher dispatcher = new Dispatcher(conn, settler, settings, metrics);
    this.subscriptions =
        new Subscriptions(conn, declarations, dispatcher, settings, metrics, sender);
  }

  /** Starts the client; completes once the topology of the first connection is declared. */
  private Future<Void> start() {
    return conn.start(subscriptions::retag, () -> declarations.declareAll(subscriptions.all()));
  }

  /**
   * Connects and declares the topology. Must be called on the context that will use the bus (a
   * verticle's start), and every later call must come from that context.
   */
  public static Future<Bus> connect(
      Vertx vertx, BusSettings settings, Sender sender, MeterRegistry registry) {
    Bus bus = new Bus(vertx, settings, sender, registry);
    LOG.info(
        "bus of {}@{}: {} as {} ({})",
        sender.service(),
        sender.host(),
        settings.redactedUrl(),
        bus.login,
        bus.identities.verifying()
            ? "identity checks on"
            : "identity checks off: the login is not this service's own identity "
                + bus.identities.of(sender));
    Future<Bus> f =
        bus.start()
            .compose(
                v ->
                    bus.declaresShared && sender.service().equals("conductor")
                        ? bus.subscriptions.consumeUnroutable()
                        : Future.succeededFuture())
            .map(v -> bus);
    return f.recover(
        e -> bus.conn.client.stop().transform(ar -> Future.<Bus>failedFuture(connectFailed(e))));
  }

  /**
   * Declares the shared topology (exchanges, parking and unroutable queues) as the conductor does
   * at start, then disconnects: for a broker where no {@code livemigrate setup rabbitmq} created it
   * (the all-in-one's embedded one), so that services which may not declare it can start before the
   * conductor. {@code settings} must log in as the conductor (or as a shared login).
   */
  public static Future<Void> declareTopology(Vertx vertx, BusSettings settings) {
    Bus bus =
        new Bus(vertx, settings, new Sender("conductor", "topology"), new SimpleMeterRegistry());
    return bus.start().eventually(() -> bus.close());
  }

  /**
   * Connects once, without retrying, and disconnects: whether these settings reach the broker (TLS
   * handshake, certificate and host name, login). For start-up checks and tests; {@link #connect}
   * itself keeps trying until the broker answers.
   */
  public static Future<Void> probe(Vertx vertx, BusSettings settings) {
    return BusConnection.probe(vertx, settings);
  }

  private static Throwable connectFailed(Throwable e) {
    Integer code = BusConnection.replyCode(e);
    if (code != null && code == 403) {
      return new IllegalStateException(
          "the broker refused this service's topology (403 ACCESS_REFUSED): check its user's"
              + " permissions (livemigrate setup rabbitmq): "
              + e.getMessage(),
          e);
    }
    return e;
  }

  public Topology topology() {
    return topology;
  }

  public Sender sender() {
    return sender;
  }

  /** This deployment's identities and whether this bus checks them. */
  public Identities identities() {
    return identities;
  }

  /** The broker user this bus logs in as (and puts in every message's {@code user_id}). */
  public String login() {
    return login;
  }

  public boolean isConnected() {
    return conn.client.isConnected();
  }

  /** Whether a (re)declaration found a queue or exchange of an earlier version (see README). */
  public boolean topologyOutdated() {
    return declarations.outdated();
  }

  // ------------------------------------------------------------------ consuming

  /**
   * Consumes a queue: declares it, binds it to the commands exchange under its own name and to the
   * events exchange under each of {@code eventKeys}, and hands every valid message its default
   * {@link SenderCheck} admits to {@code handler}. The default: on a compute host's queue only the
   * conductor may send; elsewhere any identity of the deployment whose claimed sender matches it,
   * heartbeats and host reports only for the sender's own host.
   */
  public Future<Void> consume(String queue, List<String> eventKeys, MessageHandler handler) {
    SenderCheck check =
        queue.startsWith(topology.namespace() + ".compute.")
            ? identities.onlyFrom(identities.conductor())
            : identities.members().and(identities.ownHostReports());
    return consume(queue, eventKeys, check, handler);
  }

  /**
   * As {@link #consume(String, List, MessageHandler)}, with who may send decided by {@code check}.
   */
  public Future<Void> consume(
      String queue, List<String> eventKeys, SenderCheck check, MessageHandler handler) {
    return subscriptions.consume(queue, eventKeys, check, handler);
  }

  // ------------------------------------------------------------------ publishing

  /** Sends a command (or a reply) to a queue, through the commands exchange. */
  public Future<Void> send(String queue, Envelope env) {
    return publish(topology.commands(), queue, env);
  }

  /** Publishes a fact on the events exchange. */
  public Future<Void> event(String routingKey, Envelope env) {
    return publish(topology.events(), routingKey, env);
  }

  /**
   * Publishes an envelope once: the future succeeds when the broker confirmed it, and fails when it
   * did not within {@code [bus] confirm_timeout_ms} (waiting that long for a lost connection to
   * come back), when the broker refused it, or when the channel was replaced before the confirm
   * (the message may or may not have been routed). A caller that must not lose the message
   * publishes the same envelope again (same id; receivers skip duplicates), or calls {@link
   * #publishUntilConfirmed}.
   */
  public Future<Void> publish(String exchange, String routingKey, Envelope env) {
    return publisher.publish(exchange, routingKey, env);
  }

  /**
   * Publishes an envelope until the broker confirms it: on every failure the same message (same id)
   * is published again after a growing pause (up to 5 s), for as long as it takes. The future fails
   * only when the bus is closed meanwhile. For outcomes an agent must not lose; the receiver
   * handles duplicates.
   */
  public Future<Void> publishUntilConfirmed(String exchange, String routingKey, Envelope env) {
    return publisher.untilConfirmed(exchange, routingKey, env);
  }

  /** {@link #publishUntilConfirmed} through the commands exchange, to a queue. */
  public Future<Void> sendUntilConfirmed(String queue, Envelope env) {
    return publishUntilConfirmed(topology.commands(), queue, env);
  }

  /** Publishes a raw JSON document (a notification) and waits for the confirm. */
  public Future<Void> publishJson(
      String exchange, String routingKey, String messageId, JsonObject body) {
    return publisher.confirmed(
        exchange, routingKey, publisher.json(messageId, routingKey).build(), body.toBuffer());
  }

  /** Publishes raw bytes; for tests that need to send what no contract would. */
  public Future<Void> publishRaw(String exchange, String routingKey, Buffer body) {
    return publishRaw(exchange, routingKey, publisher.ours().build(), body);
  }

  /**
   * Publishes raw bytes with the given properties as they are (a {@code user_id} other than the
   * login is refused by the broker); for tests and {@code livemigrate parked replay}.
   */
  public Future<Void> publishRaw(
      String exchange, String routingKey, AMQP.BasicProperties props, Buffer body) {
    return publisher.confirmed(exchange, routingKey, props, body);
  }

  // ------------------------------------------------------------------ operator and test helpers

  /**
   * Deletes the given queues, the parking and unroutable queues and the namespace's exchanges; for
   * tests that run on a shared broker and must leave nothing behind.
   */
  public Future<Void> deleteTopology(List<String> queues) {
    Future<Void> f = Future.succeededFuture();
    List<String> all = new ArrayList<>(queues);
    all.add(topology.parkedQueue());
    all.add(topology.unroutable());
    for (String q : all) {
      f =
          f.compose(
              v ->
                  conn.client
                      .queueDelete(q)
                      .<Void>mapEmpty()
                      .recover(e -> Future.succeededFuture()));
    }
    for (String x :
        List.of(
            topology.commands(),
            topology.events(),
            topology.notifications(),
            topology.parkingExchange(),
            topology.unroutable())) {
      f = f.compose(v -> conn.client.exchangeDelete(x).recover(e -> Future.succeededFuture()));
    }
    return f;
  }

  /** Number of messages waiting in a queue. */
  public Future<Long> messageCount(String queue) {
    return conn.client.messageCount(queue);
  }

  /** Fetches (and acks) one message from a queue, if any; for inspecting the parking queue. */
  public Future<RabbitMQMessage> get(String queue) {
    return conn.client.basicGet(queue, true);
  }

  /**
   * Closes the connection, which ends every consumer at once. Publishes still waiting for a confirm
   * fail.
   */
  public Future<Void> close() {
    conn.markClosed();
    publisher.failAll("bus closed");
    LOG.info("closing the bus connection of {}@{}", sender.service(), sender.host());
    return subscriptions
        .cancelAll()
        .compose(v -> conn.client.stop())
        .onComplete(
            ar ->
                LOG.info(
                    "bus connection of {}@{} closed: {}",
                    sender.service(),
                    sender.host(),
                    ar.succeeded() ? "ok" : ar.cause().toString()))
        .recover(e -> Future.succeededFuture());
  }
}
