package io.livemigrate.common.bus;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import io.vertx.rabbitmq.RabbitMQClient;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The topology a bus declares on every (re)connect. Under per-service identities only the conductor
 * declares the shared exchanges (the others may not configure them). What an earlier version left
 * (a classic queue, a direct commands exchange) is used as it is and reported, not fatal.
 */
final class Declarations {
  /** The whole bus logs under one name, the facade's. */
  private static final Logger LOG = LoggerFactory.getLogger(Bus.class);

  private final BusConnection conn;
  private final BusSettings settings;
  private final Topology topology;
  private final BusMetrics metrics;
  private final boolean declaresShared;
  private final Set<String> classicQueues = new HashSet<>();
  private boolean legacyCommands;

  Declarations(
      BusConnection conn, BusSettings settings, BusMetrics metrics, boolean declaresShared) {
    this.conn = conn;
    this.settings = settings;
    this.topology = settings.topology();
    this.metrics = metrics;
    this.declaresShared = declaresShared;
  }

  /** Whether a (re)declaration found a queue or exchange of an earlier version (see README). */
  boolean outdated() {
    return legacyCommands || !classicQueues.isEmpty() && "quorum".equals(settings.queueType());
  }

  /** Whether the commands exchange is an earlier version's, which has no unroutable queue. */
  boolean legacyCommands() {
    return legacyCommands;
  }

  Future<Void> declareAll(List<Subscription> subscriptions) {
    Future<Void> f = declaresShared ? declareShared() : Future.succeededFuture();
    for (Subscription s : subscriptions) {
      f = f.compose(v -> declare(s));
    }
    return f.compose(v -> conn.client.basicQos(settings.prefetch()));
  }

  private Future<Void> declareShared() {
    JsonObject commandArgs =
        new JsonObject()
            // RabbitMQ's name and the embedded broker's name for the same thing; each ignores
            // the other's.
            .put("alternate-exchange", topology.unroutable())
            .put("alternateExchange", topology.unroutable());
    RabbitMQClient client = conn.client;
    return client
        .exchangeDeclare(topology.unroutable(), "fanout", true, false)
        .compose(v -> declareQueue(topology.unroutable(), false))
        .compose(v -> client.queueBind(topology.unroutable(), topology.unroutable(), ""))
        .compose(v -> client.exchangeDeclare(topology.parkingExchange(), "fanout", true, false))
        .compose(v -> declareQueue(topology.parkedQueue(), false))
        .compose(v -> client.queueBind(topology.parkedQueue(), topology.parkingExchange(), ""))
        .compose(
            v ->
                legacyCommands
                    ? Future.succeededFuture()
                    : client
                        .exchangeDeclare(topology.commands(), "topic", true, false, commandArgs)
                        .recover(
                            e -> {
                              if (!BusConnection.isPreconditionFailed(e)) {
                                return Future.failedFuture(e);
                              }
                              legacyCommands = true;
                              metrics.outdated.set(1);
                              LOG.error(
                                  "{} exists from an earlier version (a direct exchange without"
                                      + " an alternate exchange): using it as it is, so commands"
                                      + " to a missing queue are not detected and topic"
                                      + " permissions do not apply to it. Recreate it as the"
                                      + " README says (\"Upgrading the topology\"): {}",
                                  topology.commands(),
                                  e.getMessage());
                              return Future.succeededFuture();
                            }))
        .compose(v -> client.exchangeDeclare(topology.events(), "topic", true, false))
        .compose(v -> client.exchangeDeclare(topology.notifications(), "topic", true, false));
  }

  /**
   * Declares a durable queue: quorum (with the delivery limit and dead-lettering into the parking
   * exchange when {@code deadLetter}) unless configured classic or found classic. RabbitMQ refuses
   * to redeclare a classic queue as quorum (406); such a queue is used as it is, with an error in
   * the log and {@code livemigrate_bus_topology_outdated} set, rather than failing start-up.
   */
  private Future<Void> declareQueue(String queue, boolean deadLetter) {
    RabbitMQClient client = conn.client;
    if (!"quorum".equals(settings.queueType()) || classicQueues.contains(queue)) {
      return client.queueDeclare(queue, true, false, false).mapEmpty();
    }
    JsonObject args = new JsonObject().put("x-queue-type", "quorum");
    if (deadLetter) {
      args.put("x-delivery-limit", settings.deliveryLimit())
          .put("x-dead-letter-exchange", topology.parkingExchange());
    }
    return client
        .queueDeclare(queue, true, false, false, args)
        .<Void>mapEmpty()
        .recover(
            e -> {
              if (!BusConnection.isPreconditionFailed(e)) return Future.failedFuture(e);
              classicQueues.add(queue);
              metrics.outdated.set(1);
              LOG.error(
                  "queue {} exists as a classic queue (an earlier version, or another type): using"
                      + " it as it is, without the broker's delivery limit. Recreate it as the"
                      + " README says (\"Upgrading the topology\"): {}",
                  queue,
                  e.getMessage());
              return client.queueDeclare(queue, true, false, false).mapEmpty();
            });
  }

  private Future<Void> declare(Subscription s) {
    if (s.unroutable) return Future.succeededFuture();
    Future<Void> f = declareQueue(s.queue, true);
    f = f.compose(v -> conn.client.queueBind(s.queue, topology.commands(), s.queue));
    for (String key : s.eventKeys) {
      f = f.compose(v -> conn.client.queueBind(s.queue, topology.events(), key));
    }
    return f;
  }

  /**
   * Declares a subscription's queue; while the shared exchanges do not exist yet (404: a service
   * with its own identity may not declare them, and the conductor or {@code livemigrate setup
   * rabbitmq} has not yet), waits and tries again.
   */
  Future<Void> declareWhenExchangesExist(Subscription s) {
    return declareWhenExchangesExist(s, 1);
  }

  private Future<Void> declareWhenExchangesExist(Subscription s, int n) {
    return declare(s)
        .recover(
            e -> {
              Integer code = BusConnection.replyCode(e);
              if (conn.closed() || code == null || code != 404) return Future.failedFuture(e);
              if (n == 1 || n % 20 == 0) {
                LOG.warn(
                    "{}: the exchanges are not there yet (waiting for the conductor or livemigrate"
                        + " setup rabbitmq to declare them): {}",
                    s.queue,
                    e.getMessage());
              }
              Promise<Void> p = Promise.promise();
              conn.vertx.setTimer(
                  settings.reconnectIntervalMs(),
                  t -> declareWhenExchangesExist(s, n + 1).onComplete(p));
              return p.future();
            });
  }
}
