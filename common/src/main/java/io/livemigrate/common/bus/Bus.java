package io.livemigrate.common.bus;

import com.rabbitmq.client.AMQP;
import io.livemigrate.common.contract.Contracts;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.Sender;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.rabbitmq.QueueOptions;
import io.vertx.rabbitmq.RabbitMQClient;
import io.vertx.rabbitmq.RabbitMQMessage;
import io.vertx.rabbitmq.RabbitMQOptions;
import io.vertx.rabbitmq.RabbitMQPublisher;
import io.vertx.rabbitmq.RabbitMQPublisherOptions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One service's connection to the broker, over vertx-rabbitmq-client.
 *
 * <p>Rules it keeps (see research/embedded-amqp.md for why): every call runs on the context that
 * created the bus, because the client has one channel and races when called from elsewhere;
 * topology is declared on every (re)connect; every publish waits for the broker's confirm with a
 * timeout, since a confirm in flight at a connection drop never completes; messages are acked only
 * after the handler's future succeeds; undecodable, invalid or repeatedly failing messages are
 * parked with a reason and counted, never killing the consumer; a message id seen before is acked
 * and skipped.
 */
public final class Bus {
  private static final Logger LOG = LoggerFactory.getLogger(Bus.class);
  private static final int SEEN_IDS = 50_000;

  private final Vertx vertx;
  private final Context context;
  private final BusSettings settings;
  private final Topology topology;
  private final Sender sender;
  private final BusMetrics metrics;
  private final RabbitMQClient client;
  private final RabbitMQPublisher publisher;
  private final List<Subscription> subscriptions = new ArrayList<>();
  private final Map<String, Integer> failures = new HashMap<>();
  private final Map<String, Integer> transientFailures = new HashMap<>();

  /** The longest pause before a message whose handler failed transiently is redelivered. */
  private static final long TRANSIENT_MAX_PAUSE_MS = 5000;

  private final Set<String> seen =
      java.util.Collections.newSetFromMap(
          new LinkedHashMap<>() {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> e) {
              return size() > SEEN_IDS;
            }
          });

  /** Ids whose handler is still running: a second copy arriving meanwhile is a duplicate too. */
  private final Set<String> inFlight = new java.util.HashSet<>();

  private boolean closed;
  private final List<io.vertx.rabbitmq.RabbitMQConsumer> consumers = new ArrayList<>();

  private record Subscription(
      String queue, boolean commandBinding, List<String> eventKeys, MessageHandler handler) {}

  private Bus(Vertx vertx, BusSettings settings, Sender sender, MeterRegistry registry) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.settings = settings;
    this.topology = settings.topology();
    this.sender = sender;
    this.metrics = new BusMetrics(registry, sender.service());
    RabbitMQOptions o =
        new RabbitMQOptions()
            .setUri(settings.url())
            .setConnectionName(sender.service() + "@" + sender.host())
            // Vert.x-level reconnect, never amqp-client recovery: the publisher recurses
            // endlessly under the latter (StackOverflowError) and its futures hang.
            .setAutomaticRecoveryEnabled(false)
            .setReconnectAttempts(Integer.MAX_VALUE)
            .setReconnectInterval(settings.reconnectIntervalMs())
            .setRequestedHeartbeat(10);
    this.client = RabbitMQClient.create(vertx, o);
    this.publisher =
        RabbitMQPublisher.create(
            vertx,
            client,
            new RabbitMQPublisherOptions()
                .setReconnectAttempts(Integer.MAX_VALUE)
                .setReconnectInterval(settings.reconnectIntervalMs()));
  }

  /**
   * Connects and declares the shared topology. Must be called on the context that will use the bus
   * (a verticle's start), and every later call must come from that context.
   */
  public static Future<Bus> connect(
      Vertx vertx, BusSettings settings, Sender sender, MeterRegistry registry) {
    Bus bus = new Bus(vertx, settings, sender, registry);
    bus.client.addConnectionEstablishedCallback(
        p -> {
          bus.metrics.connected.set(1);
          bus.declareAll().onComplete(p);
        });
    return bus.client
        .start()
        .compose(v -> bus.declareAll())
        .compose(v -> bus.publisher.start())
        .map(v -> bus);
  }

  public Topology topology() {
    return topology;
  }

  public Sender sender() {
    return sender;
  }

  public boolean isConnected() {
    return client.isConnected();
  }

  private Future<Void> declareAll() {
    Future<Void> f =
        client
            .exchangeDeclare(topology.commands(), "direct", true, false)
            .compose(v -> client.exchangeDeclare(topology.events(), "topic", true, false))
            .compose(v -> client.exchangeDeclare(topology.notifications(), "topic", true, false))
            .compose(v -> client.queueDeclare(topology.parkedQueue(), true, false, false))
            .mapEmpty();
    for (Subscription s : List.copyOf(subscriptions)) {
      f = f.compose(v -> declare(s));
    }
    return f.compose(v -> client.basicQos(settings.prefetch()));
  }

  private Future<Void> declare(Subscription s) {
    Future<Void> f = client.queueDeclare(s.queue(), true, false, false).mapEmpty();
    if (s.commandBinding()) {
      f = f.compose(v -> client.queueBind(s.queue(), topology.commands(), s.queue()));
    }
    for (String key : s.eventKeys()) {
      f = f.compose(v -> client.queueBind(s.queue(), topology.events(), key));
    }
    return f;
  }

  /**
   * Consumes a queue: declares it, binds it to the commands exchange under its own name and to the
   * events exchange under each of {@code eventKeys}, and hands every valid message to {@code
   * handler}.
   */
  public Future<Void> consume(String queue, List<String> eventKeys, MessageHandler handler) {
    Subscription s = new Subscription(queue, true, List.copyOf(eventKeys), handler);
    subscriptions.add(s);
    metrics.consuming(queue);
    return declare(s)
        .compose(v -> client.basicQos(settings.prefetch()))
        .compose(
            v ->
                client.basicConsumer(
                    queue,
                    new QueueOptions()
                        .setAutoAck(false)
                        .setMaxInternalQueueSize(settings.prefetch() * 4)))
        .map(
            consumer -> {
              consumers.add(consumer);
              consumer.exceptionHandler(e -> LOG.warn("consumer of {}: {}", queue, e.toString()));
              consumer.handler(m -> onDelivery(s, m));
              return null;
            });
  }

  private void onDelivery(Subscription s, RabbitMQMessage m) {
    if (closed) return;
    long tag = m.envelope().getDeliveryTag();
    if (m.envelope().isRedeliver()) metrics.redelivered(s.queue());
    Envelope env;
    Message body;
    try {
      JsonObject json = m.body().toJsonObject();
      env = Envelope.fromJson(json);
      body = Contracts.decode(env);
    } catch (DecodeException e) {
      metrics.consumed(s.queue(), "undecodable");
      park(s.queue(), m, "undecodable", "body is not JSON: " + e.getMessage(), tag);
      return;
    } catch (InvalidMessageException | ClassCastException e) {
      metrics.consumed(s.queue(), "invalid");
      park(s.queue(), m, "invalid", e.getMessage(), tag);
      return;
    }
    metrics.consumed(s.queue(), env.type());
    if (seen.contains(env.id()) || inFlight.contains(env.id())) {
      metrics.duplicate(s.queue());
      LOG.debug("duplicate message {} ({}) on {} skipped", env.id(), env.type(), s.queue());
      client.basicAck(tag, false);
      return;
    }
    Future<Void> result;
    inFlight.add(env.id());
    try {
      result = s.handler().handle(env, body);
    } catch (RuntimeException e) {
      result = Future.failedFuture(e);
    }
    result.onComplete(
        ar -> {
          inFlight.remove(env.id());
          if (closed) return; // the connection is gone; the broker redelivers to the next owner
          if (ar.succeeded()) {
            seen.add(env.id());
            failures.remove(env.id());
            transientFailures.remove(env.id());
            client.basicAck(tag, false);
          } else if (ar.cause() instanceof InvalidMessageException) {
            seen.add(env.id());
            park(s.queue(), m, "invalid", ar.cause().getMessage(), tag);
          } else if (TransientFailure.isTransient(ar.cause())) {
            // Not the message's fault: wait (bounded) and try again, never park for it.
            int n = transientFailures.merge(env.id(), 1, Integer::sum);
            metrics.transientRetry(s.queue());
            if (n == 1 || n % 20 == 0) {
              LOG.warn(
                  "{} {} on {} waits: {} (attempt {})",
                  env.type(),
                  env.id(),
                  s.queue(),
                  ar.cause().getMessage(),
                  n);
            }
            long pause = Math.min(TRANSIENT_MAX_PAUSE_MS, 100L << Math.min(n, 6));
            vertx.setTimer(pause, t -> client.basicNack(tag, false, true));
          } else {
            int n = failures.merge(env.id(), 1, Integer::sum);
            if (n >= settings.maxDeliveries()) {
              failures.remove(env.id());
              seen.add(env.id());
              park(
                  s.queue(),
                  m,
                  "handler_failed",
                  "handler failed " + n + " times, last: " + ar.cause(),
                  tag);
            } else {
              LOG.warn(
                  "{} {} on {} failed (attempt {}), redelivering: {}",
                  env.type(),
                  env.id(),
                  s.queue(),
                  n,
                  ar.cause().toString());
              // A short, growing pause so a failing dependency is not hammered.
              vertx.setTimer(100L * n, t -> client.basicNack(tag, false, true));
            }
          }
        });
  }

  private void park(String queue, RabbitMQMessage m, String cause, String reason, long tag) {
    metrics.parked(queue, cause);
    LOG.warn("parking a message from {} ({}): {}", queue, cause, reason);
    Map<String, Object> headers = new HashMap<>();
    headers.put("x-parked-reason", truncate(reason, 1000));
    headers.put("x-parked-cause", cause);
    headers.put("x-original-queue", queue);
    headers.put("x-parked-by", sender.service() + "@" + sender.host());
    AMQP.BasicProperties props =
        new AMQP.BasicProperties.Builder()
            .contentType("application/octet-stream")
            .deliveryMode(2)
            .headers(headers)
            .build();
    confirmed("", topology.parkedQueue(), props, m.body())
        .onComplete(
            ar -> {
              if (ar.failed()) {
                // Not parked: leave it with the broker rather than lose it.
                LOG.error("could not park a message from {}: {}", queue, ar.cause().toString());
                vertx.setTimer(1000, t -> client.basicNack(tag, false, true));
              } else {
                client.basicAck(tag, false);
              }
            });
  }

  private static String truncate(String s, int max) {
    if (s == null) return "";
    return s.length() <= max ? s : s.substring(0, max);
  }

  /** Sends a command to a queue (through the commands exchange). */
  public Future<Void> send(String queue, Envelope env) {
    return publish(topology.commands(), queue, env);
  }

  /** Publishes a fact on the events exchange. */
  public Future<Void> event(String routingKey, Envelope env) {
    return publish(topology.events(), routingKey, env);
  }

  /** Publishes an envelope and waits for the broker's confirm. */
  public Future<Void> publish(String exchange, String routingKey, Envelope env) {
    AMQP.BasicProperties.Builder b =
        new AMQP.BasicProperties.Builder()
            .contentType("application/json")
            .deliveryMode(2)
            .messageId(env.id())
            .type(env.type())
            .timestamp(new java.util.Date());
    if (env.correlationId() != null) b.correlationId(env.correlationId());
    return confirmed(exchange, routingKey, b.build(), env.toJson().toBuffer());
  }

  /** Publishes a raw JSON document (a notification) and waits for the confirm. */
  public Future<Void> publishJson(
      String exchange, String routingKey, String messageId, JsonObject body) {
    AMQP.BasicProperties props =
        new AMQP.BasicProperties.Builder()
            .contentType("application/json")
            .deliveryMode(2)
            .messageId(messageId)
            .type(routingKey)
            .build();
    return confirmed(exchange, routingKey, props, body.toBuffer());
  }

  /** Publishes raw bytes; for tests that need to send what no contract would. */
  public Future<Void> publishRaw(String exchange, String routingKey, Buffer body) {
    return confirmed(
        exchange, routingKey, new AMQP.BasicProperties.Builder().deliveryMode(2).build(), body);
  }

  private Future<Void> confirmed(
      String exchange, String routingKey, AMQP.BasicProperties props, Buffer body) {
    if (closed) {
      // A publish after close would make the client reconnect and resurrect our consumers.
      return Future.failedFuture(new IllegalStateException("bus closed"));
    }
    Promise<Void> p = Promise.promise();
    long start = System.nanoTime();
    Runnable send =
        () -> {
          long timer =
              vertx.setTimer(
                  settings.confirmTimeoutMs(),
                  t ->
                      p.tryFail(
                          new TimeoutException(
                              "no broker confirm within "
                                  + settings.confirmTimeoutMs()
                                  + " ms for "
                                  + exchange
                                  + "/"
                                  + routingKey)));
          publisher
              .publishConfirm(exchange, routingKey, props, body)
              .onComplete(
                  ar -> {
                    vertx.cancelTimer(timer);
                    if (ar.succeeded()) {
                      metrics.confirmLatency(System.nanoTime() - start);
                      p.tryComplete();
                    } else {
                      p.tryFail(ar.cause());
                    }
                  });
        };
    // The client's single channel must only be used from its own context.
    if (Vertx.currentContext() == context) {
      send.run();
    } else {
      context.runOnContext(v -> send.run());
    }
    String ex = exchange.isEmpty() ? "(default)" : exchange;
    return p.future()
        .onSuccess(v -> metrics.published(ex, true))
        .onFailure(e -> metrics.published(ex, false));
  }

  /**
   * Deletes the given queues, the parking queue and the namespace's exchanges; for tests that run
   * on a shared broker and must leave nothing behind.
   */
  public Future<Void> deleteTopology(List<String> queues) {
    Future<Void> f = Future.succeededFuture();
    List<String> all = new ArrayList<>(queues);
    all.add(topology.parkedQueue());
    for (String q : all) {
      f =
          f.compose(
              v -> client.queueDelete(q).<Void>mapEmpty().recover(e -> Future.succeededFuture()));
    }
    for (String x : List.of(topology.commands(), topology.events(), topology.notifications())) {
      f = f.compose(v -> client.exchangeDelete(x).recover(e -> Future.succeededFuture()));
    }
    return f;
  }

  /** Number of messages waiting in a queue. */
  public Future<Long> messageCount(String queue) {
    return client.messageCount(queue);
  }

  /** Fetches one message from a queue, if any; for inspecting the parking queue. */
  public Future<RabbitMQMessage> get(String queue) {
    return client.basicGet(queue, true);
  }

  /**
   * Closes the connection, which ends every consumer at once. The publisher is not stopped first:
   * its stop waits for a send queue that a lost confirm can hold forever.
   */
  public Future<Void> close() {
    closed = true;
    metrics.connected.set(0);
    subscriptions.clear();
    publisher.stop();
    LOG.info("closing the bus connection of {}@{}", sender.service(), sender.host());
    // Cancel consumers first: the client treats a consumer cut off by its own stop() as an
    // unexpected shutdown, reconnects and consumes again, stealing messages from our successor.
    Future<Void> cancelled = Future.succeededFuture();
    for (io.vertx.rabbitmq.RabbitMQConsumer c : consumers) {
      cancelled = cancelled.compose(v -> c.cancel().recover(e -> Future.succeededFuture()));
    }
    consumers.clear();
    return cancelled
        .compose(v -> client.stop())
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
