package io.livemigrate.common.bus;

import io.livemigrate.common.contract.Contracts;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Message;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.rabbitmq.RabbitMQMessage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a bus does with each delivery: decodes it, lets the subscription's {@link SenderCheck}
 * decide whether the handler may see it, skips a message id handled before, runs the handler and
 * settles the delivery by its outcome. Undecodable, invalid, refused and repeatedly failing
 * messages are parked with a reason and counted; none kills the consumer.
 */
final class Dispatcher {
  /** The whole bus logs under one name, the facade's. */
  private static final Logger LOG = LoggerFactory.getLogger(Bus.class);

  private static final int SEEN_IDS = 50_000;

  /** The longest pause before a message whose handler failed transiently is handled again. */
  private static final long TRANSIENT_MAX_PAUSE_MS = 5000;

  private final BusConnection conn;
  private final Settler settler;
  private final BusMetrics metrics;
  private final Topology topology;
  private final int maxDeliveries;
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

  Dispatcher(BusConnection conn, Settler settler, BusSettings settings, BusMetrics metrics) {
    this.conn = conn;
    this.settler = settler;
    this.metrics = metrics;
    this.topology = settings.topology();
    this.maxDeliveries = settings.maxDeliveries();
  }

  void onDelivery(Delivery d) {
    if (conn.closed()) return;
    Subscription s = d.sub();
    RabbitMQMessage m = d.msg();
    if (m.envelope().isRedeliver()) metrics.redelivered(s.queue);
    if (s.unroutable) {
      metrics.consumed(s.queue, "unroutable");
      settler.park(
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
      settler.park(d, "undecodable", "body is not JSON: " + e.getMessage());
      return;
    } catch (InvalidMessageException | ClassCastException e) {
      metrics.consumed(s.queue, "invalid");
      settler.park(d, "invalid", e.getMessage());
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
      settler.park(d, "forbidden", refused);
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
      settler.ack(d);
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
      result = d.sub().handler.handle(env, body);
    } catch (RuntimeException e) {
      result = Future.failedFuture(e);
    }
    result.onComplete(
        ar -> {
          // The connection is gone; the broker redelivers to the next owner.
          if (conn.closed()) return;
          if (ar.succeeded()) {
            seen.add(env.id());
            failures.remove(env.id());
            transientFailures.remove(env.id());
            settler.ack(d);
          } else if (ar.cause() instanceof ForbiddenSender) {
            settler.park(d, "forbidden", ar.cause().getMessage());
          } else if (ar.cause() instanceof InvalidMessageException) {
            seen.add(env.id());
            settler.park(d, "invalid", ar.cause().getMessage());
          } else if (TransientFailure.isTransient(ar.cause())) {
            waitAndRunAgain(d, env, body, ar.cause());
            return;
          } else {
            failed(d, env, ar.cause());
          }
          release(env.id());
        });
  }

  /**
   * Not the message's fault: wait (bounded) and handle it again, never park for it. It stays with
   * this consumer: a requeue would count towards a quorum queue's delivery limit, after which the
   * broker parks it.
   */
  private void waitAndRunAgain(Delivery d, Envelope env, Message body, Throwable cause) {
    Subscription s = d.sub();
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
          cause.getMessage(),
          n);
    } else if (n == 1) {
      LOG.debug("{} {} on {} waits: {}", env.type(), env.id(), s.queue, cause.getMessage());
    }
    long pause = Math.min(TRANSIENT_MAX_PAUSE_MS, 100L << Math.min(n, 6));
    conn.vertx.setTimer(
        pause,
        t -> {
          if (conn.closed()) return;
          if (!settler.current(d)) {
            // Its channel is gone: the broker has put it back for the next delivery.
            metrics.stale(s.queue);
            transientFailures.remove(env.id());
            release(env.id());
            return;
          }
          run(d, env, body);
        });
  }

  /** Redelivered after a short, growing pause, until {@code max_deliveries}; then parked. */
  private void failed(Delivery d, Envelope env, Throwable cause) {
    int n = failures.merge(env.id(), 1, Integer::sum);
    if (n >= maxDeliveries) {
      failures.remove(env.id());
      seen.add(env.id());
      settler.park(d, "handler_failed", "handler failed " + n + " times, last: " + cause);
      return;
    }
    LOG.warn(
        "{} {} on {} failed (attempt {}), redelivering: {}",
        env.type(),
        env.id(),
        d.sub().queue,
        n,
        cause.toString());
    // A short, growing pause so a failing dependency is not hammered.
    conn.vertx.setTimer(100L * n, t -> settler.nack(d));
  }

  /** The handler of {@code id} is done: copies that waited for it are dispatched again. */
  private void release(String id) {
    List<Delivery> waiting = inFlight.remove(id);
    if (waiting == null) return;
    for (Delivery w : waiting) onDelivery(w);
  }
}
