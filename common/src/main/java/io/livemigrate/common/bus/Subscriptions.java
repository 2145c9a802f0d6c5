package io.livemigrate.common.bus;

import io.livemigrate.common.contract.Sender;
import io.vertx.core.Future;
import io.vertx.rabbitmq.QueueOptions;
import io.vertx.rabbitmq.RabbitMQConsumer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The queues a bus consumes and their consumers. Every (re)connect gives each subscription a new
 * consumer tag, so that a delivery tells which generation it belongs to.
 */
final class Subscriptions {
  /** The whole bus logs under one name, the facade's. */
  private static final Logger LOG = LoggerFactory.getLogger(Bus.class);

  private final BusConnection conn;
  private final Declarations declarations;
  private final Dispatcher dispatcher;
  private final BusSettings settings;
  private final BusMetrics metrics;
  private final Sender sender;
  private final List<Subscription> subscriptions = new ArrayList<>();
  private final List<RabbitMQConsumer> consumers = new ArrayList<>();

  Subscriptions(
      BusConnection conn,
      Declarations declarations,
      Dispatcher dispatcher,
      BusSettings settings,
      BusMetrics metrics,
      Sender sender) {
    this.conn = conn;
    this.declarations = declarations;
    this.dispatcher = dispatcher;
    this.settings = settings;
    this.metrics = metrics;
    this.sender = sender;
  }

  /** A copy: the client's connect reads it on its own thread. */
  List<Subscription> all() {
    return List.copyOf(subscriptions);
  }

  /** A new generation began: from now on only deliveries with its tags are current. */
  void retag(long generation) {
    for (Subscription s : all()) s.retag(tag(s.queue, generation));
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

  Future<Void> consume(
      String queue, List<String> eventKeys, SenderCheck check, MessageHandler handler) {
    return subscribe(
        new Subscription(queue, List.copyOf(eventKeys), check, handler, false, options(queue)));
  }

  /** The conductor parks what the commands exchange could not route (cause {@code unroutable}). */
  Future<Void> consumeUnroutable() {
    if (declarations.legacyCommands()) return Future.succeededFuture();
    String queue = settings.topology().unroutable();
    return subscribe(
        new Subscription(queue, List.of(), SenderCheck.ANYONE, null, true, options(queue)));
  }

  private QueueOptions options(String queue) {
    QueueOptions o =
        new QueueOptions().setAutoAck(false).setMaxInternalQueueSize(settings.prefetch() * 4);
    o.setConsumerTag(tag(queue, conn.generation()));
    return o;
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
              consumer.handler(
                  m -> dispatcher.onDelivery(new Delivery(s, m, conn.channelInstance())));
              return null;
            });
  }

  /**
   * Forgets every subscription and cancels every consumer, before the client stops: it treats a
   * consumer cut off by its own stop() as an unexpected shutdown, reconnects and consumes again,
   * stealing messages from our successor.
   */
  Future<Void> cancelAll() {
    subscriptions.clear();
    Future<Void> cancelled = Future.succeededFuture();
    for (RabbitMQConsumer c : consumers) {
      cancelled = cancelled.compose(v -> c.cancel().recover(e -> Future.succeededFuture()));
    }
    consumers.clear();
    return cancelled;
  }
}
