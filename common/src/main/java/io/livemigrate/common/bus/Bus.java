package io.livemigrate.common.bus;

import com.rabbitmq.client.AMQP;
import io.livemigrate.common.contract.Contracts;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.Sender;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.rabbitmq.QueueOptions;
import io.vertx.rabbitmq.RabbitMQConsumer;
import io.vertx.rabbitmq.RabbitMQMessage;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
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
 */
public final class Bus {
  private static final Logger LOG = LoggerFactory.getLogger(Bus.class);
  private static final int SEEN_IDS = 50_000;

  /** The longest pause before a message whose handler failed transiently is handled again. */
  private static final long TRANSIENT_MAX_PAUSE_MS = 5000;

  private final BusSettings settings;
  private final Topology topology;
  private final Sender sender;
  private final BusMetrics metrics;
  private final Identities identities;
  private final String login;
  private final boolean declaresShared;
  private final BusConnection conn;
  private final Declarations declarations;
  private final Publisher publisher;
  private final List<Subscription> subscriptions = new ArrayList<>();
  private final Map<String, Integer> failures = new HashMap<>();
  private final Map<String, Integer> transientFailures = new HashMap<>();

  private final Set<String> seen =
      Collections.newSetFromMap(
          new LinkedHashMap<>() {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> e) {
              return size() > SEEN_IDS;
            }
          });

  /**
   * Ids whose handler is still running, with the further copies that arrived meanwhile: those wait
   * for the outcome (acked as duplicates after a success, handled again after a failure), because
   * after a reconnect the running one may belong to a dead channel and the copy is the broker's
   * redelivery of it.
   */
  private final Map<String, List<Delivery>> inFlight = new HashMap<>();

  private final List<RabbitMQConsumer> consumers = new ArrayList<>();

  /** One delivery and the channel it came on. */
  private record Delivery(Subscription sub, RabbitMQMessage msg, long channel) {
    long tag() {
      return msg.envelope().getDeliveryTag();
    }
  }

  private Bus(Vertx vertx, BusSettings settings, Sender sender, MeterRegistry registry) {
    this.settings = settings;
    this.topology = settings.topology();
    this.sender = sender;
    this.metrics = new BusMetrics(registry, sender.service());
    this.login = settings.login();
    this.identities =
        Identities.resolve(settings.verifyIdentity(), settings.identityPrefix(), login, sender);
    this.declaresShared =
        !identities.verifying() || identities.conductor().equals(identities.of(sender));
    this.conn = new BusConnection(vertx, settings, sender, metrics);
    this.declarations = new Declarations(conn, settings, metrics, declaresShared);
    this.publisher = new Publisher(conn, settings, metrics);
  }

  /** Starts the client; completes once the topology of the first connection is declared. */
  private Future<Void> start() {
    return conn.start(this::retag, () -> declarations.declareAll(List.copyOf(subscriptions)));
  }

  /** A new generation began: from now on only deliveries with its tags are current. */
  private void retag(long generation) {
    for (Subscription s : List.copyOf(subscriptions)) s.retag(tag(s.queue, generation));
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
                        ? bus.consumeUnroutable()
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
        new Bus(
            vertx,
            settings,
            new Sender("conductor", "topology"),
            new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
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

  private String tag(String queue, long gen) {
    return queue
        + "@"
        + sender.host()
        + "#"
        + gen
        + "-"
        + UUID.randomUUID().toString().substring(0, 8);
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
    return subscribe(
        new Subscription(queue, List.copyOf(eventKeys), check, handler, false, options(queue)));
  }

  private QueueOptions options(String queue) {
    QueueOptions o =
        new QueueOptions().setAutoAck(false).setMaxInternalQueueSize(settings.prefetch() * 4);
    o.setConsumerTag(tag(queue, conn.generation()));
    return o;
  }

  /** The conductor parks what the commands exchange could not route (cause {@code unroutable}). */
  private Future<Void> consumeUnroutable() {
    if (declarations.legacyCommands()) return Future.succeededFuture();
    return subscribe(
        new Subscription(
            topology.unroutable(),
            List.of(),
            SenderCheck.ANYONE,
            null,
            true,
            options(topology.unroutable())));
  }

  private Future<Void> subscribe(Subscription s) {
    subscriptions.add(s);
    metrics.consuming(s.queue);
    return declarations
        .declareWhenExchangesExist(s)
        .compose(v -> conn.client.basicQos(settings.prefetch()))
        .compose(v -> conn.client.basicConsumer(s.queue, s.options))
        .map(
            consumer -> {
              consumers.add(consumer);
              consumer.exceptionHandler(e -> LOG.warn("consumer of {}: {}", s.queue, e.toString()));
              consumer.handler(m -> onDelivery(new Delivery(s, m, conn.channelInstance())));
              return null;
            });
  }

  /** Whether {@code d} came on the channel the client uses now (else it must not be acked). */
  private boolean current(Delivery d) {
    return !conn.closed()
        && d.sub.tag.equals(d.msg.consumerTag())
        && d.channel == conn.channelInstance();
  }

  private void onDelivery(Delivery d) {
    if (conn.closed()) return;
    Subscription s = d.sub;
    RabbitMQMessage m = d.msg;
    if (m.envelope().isRedeliver()) metrics.redelivered(s.queue);
    if (s.unroutable) {
      metrics.consumed(s.queue, "unroutable");
      park(
          d,
          "unroutable",
          "no queue is bound for routing key '"
              + m.envelope().getRoutingKey()
              + "' on "
              + topology.commands());
      return;
    }
    Envelope env;
    Message body;
    try {
      JsonObject json = m.body().toJsonObject();
      env = Envelope.fromJson(json).withUserId(m.properties().getUserId());
      body = Contracts.decode(env);
    } catch (DecodeException e) {
      metrics.consumed(s.queue, "undecodable");
      park(d, "undecodable", "body is not JSON: " + e.getMessage());
      return;
    } catch (InvalidMessageException | ClassCastException e) {
      metrics.consumed(s.queue, "invalid");
      park(d, "invalid", e.getMessage());
      return;
    }
    metrics.consumed(s.queue, env.type());
    String refused;
    try {
      refused = s.check.refuse(env, body);
    } catch (RuntimeException e) {
      refused = "sender check failed: " + e;
    }
    if (refused != null) {
      // Never marked seen: a forged copy must not suppress the genuine message of that id.
      park(d, "forbidden", refused);
      return;
    }
    // An operator's replay (livemigrate parked replay) is handled again even if this process
    // parked it: handlers tolerate duplicates, and a replay that is skipped helps nobody.
    boolean replayed =
        m.properties().getHeaders() != null
            && m.properties().getHeaders().containsKey(ParkedMessages.REPLAYED);
    if (seen.contains(env.id()) && !replayed) {
      metrics.duplicate(s.queue);
      LOG.debug("duplicate message {} ({}) on {} skipped", env.id(), env.type(), s.queue);
      ack(d);
      return;
    }
    List<Delivery> waiting = inFlight.get(env.id());
    if (waiting != null) {
      waiting.add(d);
      return;
    }
    inFlight.put(env.id(), new ArrayList<>());
    run(d, env, body);
  }

  private void run(Delivery d, Envelope env, Message body) {
    Future<Void> result;
    try {
      result = d.sub.handler.handle(env, body);
    } catch (RuntimeException e) {
      result = Future.failedFuture(e);
    }
    result.onComplete(
        ar -> {
          if (conn.closed())
            return; // the connection is gone; the broker redelivers to the next owner
          Subscription s = d.sub;
          if (ar.succeeded()) {
            seen.add(env.id());
            failures.remove(env.id());
            transientFailures.remove(env.id());
            ack(d);
            release(env.id());
          } else if (ar.cause() instanceof ForbiddenSender) {
            park(d, "forbidden", ar.cause().getMessage());
            release(env.id());
          } else if (ar.cause() instanceof InvalidMessageException) {
            seen.add(env.id());
            park(d, "invalid", ar.cause().getMessage());
            release(env.id());
          } else if (TransientFailure.isTransient(ar.cause())) {
            // Not the message's fault: wait (bounded) and handle it again, never park for it.
            // It stays with this consumer: a requeue would count towards a quorum queue's
            // delivery limit, after which the broker parks it.
            int n = transientFailures.merge(env.id(), 1, Integer::sum);
            metrics.transientRetry(s.queue);
            // The outage itself is logged once by whoever sees it (the store's health); one line
            // per waiting message would repeat it hundreds of times. A long wait still shows.
            if (n % 20 == 0) {
              LOG.warn(
                  "{} {} on {} still waits: {} (attempt {})",
                  env.type(),
                  env.id(),
                  s.queue,
                  ar.cause().getMessage(),
                  n);
            } else if (n == 1) {
              LOG.debug(
                  "{} {} on {} waits: {}", env.type(), env.id(), s.queue, ar.cause().getMessage());
            }
            long pause = Math.min(TRANSIENT_MAX_PAUSE_MS, 100L << Math.min(n, 6));
            conn.vertx.setTimer(
                pause,
                t -> {
                  if (conn.closed()) return;
                  if (!current(d)) {
                    // Its channel is gone: the broker has put it back for the next delivery.
                    metrics.stale(s.queue);
                    transientFailures.remove(env.id());
                    release(env.id());
                    return;
                  }
                  run(d, env, body);
                });
          } else {
            int n = failures.merge(env.id(), 1, Integer::sum);
            if (n >= settings.maxDeliveries()) {
              failures.remove(env.id());
              seen.add(env.id());
              park(d, "handler_failed", "handler failed " + n + " times, last: " + ar.cause());
              release(env.id());
            } else {
              LOG.warn(
                  "{} {} on {} failed (attempt {}), redelivering: {}",
                  env.type(),
                  env.id(),
                  s.queue,
                  n,
                  ar.cause().toString());
              release(env.id());
              // A short, growing pause so a failing dependency is not hammered.
              conn.vertx.setTimer(100L * n, t -> nack(d));
            }
          }
        });
  }

  /** The handler of {@code id} is done: copies that waited for it are dispatched again. */
  private void release(String id) {
    List<Delivery> waiting = inFlight.remove(id);
    if (waiting == null) return;
    for (Delivery w : waiting) onDelivery(w);
  }

  private void ack(Delivery d) {
    if (!current(d)) {
      stale(d, "ack");
      return;
    }
    conn.client.basicAck(d.tag(), false);
  }

  private void nack(Delivery d) {
    if (!current(d)) {
      stale(d, "nack");
      return;
    }
    conn.client.basicNack(d.tag(), false, true);
  }

  private void stale(Delivery d, String what) {
    if (conn.closed()) return;
    metrics.stale(d.sub.queue);
    LOG.info(
        "not {}ing delivery {} of {}: its channel is gone, the broker redelivers it",
        what,
        d.tag(),
        d.sub.queue);
  }

  /**
   * Moves a delivery to the parking queue, keeping its body, properties and headers, with the cause
   * and reason added as headers; acks it once the broker confirmed the parked copy.
   *
   * <p>{@code user_id} cannot be kept (the broker validates it against our login), so the original
   * goes into {@code x-original-user-id}; {@code livemigrate parked replay} puts it back.
   */
  private void park(Delivery d, String cause, String reason) {
    Subscription s = d.sub;
    RabbitMQMessage m = d.msg;
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
    subscriptions.clear();
    publisher.failAll("bus closed");
    LOG.info("closing the bus connection of {}@{}", sender.service(), sender.host());
    // Cancel consumers first: the client treats a consumer cut off by its own stop() as an
    // unexpected shutdown, reconnects and consumes again, stealing messages from our successor.
    Future<Void> cancelled = Future.succeededFuture();
    for (RabbitMQConsumer c : consumers) {
      cancelled = cancelled.compose(v -> c.cancel().recover(e -> Future.succeededFuture()));
    }
    consumers.clear();
    return cancelled
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
