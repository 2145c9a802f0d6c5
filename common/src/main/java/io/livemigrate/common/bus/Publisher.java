package io.livemigrate.common.bus;

import com.rabbitmq.client.AMQP;
import io.livemigrate.common.contract.Envelope;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.util.Date;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishing for a bus: every publish carries {@code user_id} = the login, which the broker
 * validates, and is confirmed by the broker or fails within {@code confirm_timeout_ms}.
 */
final class Publisher {
  /** The whole bus logs under one name, the facade's. */
  private static final Logger LOG = LoggerFactory.getLogger(Bus.class);

  /** The longest pause between two attempts of {@link #untilConfirmed}. */
  private static final long RETRY_MAX_PAUSE_MS = 5000;

  private final BusConnection conn;
  private final Topology topology;
  private final BusMetrics metrics;
  private final String login;
  private final Confirms confirms;

  Publisher(BusConnection conn, BusSettings settings, BusMetrics metrics) {
    this.conn = conn;
    this.topology = settings.topology();
    this.metrics = metrics;
    this.login = settings.login();
    this.confirms = new Confirms(conn, settings.confirmTimeoutMs());
  }

  /** Persistent and under our login: the broker refuses any other {@code user_id}. */
  AMQP.BasicProperties.Builder ours() {
    return new AMQP.BasicProperties.Builder().deliveryMode(2).userId(login);
  }

  /** {@link #ours} for a JSON document. */
  AMQP.BasicProperties.Builder json(String messageId, String type) {
    return ours().contentType("application/json").messageId(messageId).type(type);
  }

  /** Publishes an envelope once (see {@link Bus#publish}). */
  Future<Void> publish(String exchange, String routingKey, Envelope env) {
    return confirmed(exchange, routingKey, properties(env), env.toJson().toBuffer());
  }

  /** Publishes an envelope until the broker confirms it (see {@link Bus#publishUntilConfirmed}). */
  Future<Void> untilConfirmed(String exchange, String routingKey, Envelope env) {
    Promise<Void> done = Promise.promise();
    attempt(exchange, routingKey, properties(env), env.toJson().toBuffer(), 1, done);
    return done.future();
  }

  private void attempt(
      String exchange,
      String routingKey,
      AMQP.BasicProperties props,
      Buffer body,
      int n,
      Promise<Void> done) {
    confirmed(exchange, routingKey, props, body)
        .onSuccess(v -> done.tryComplete())
        .onFailure(
            e -> {
              if (conn.closed()) {
                done.tryFail(e);
                return;
              }
              metrics.publishRetry(exchange.isEmpty() ? "(default)" : exchange);
              if (n == 1 || n % 10 == 0) {
                LOG.warn(
                    "{} {} to {}/{} not confirmed (attempt {}), publishing it again: {}",
                    props.getType(),
                    props.getMessageId(),
                    exchange,
                    routingKey,
                    n,
                    e.toString());
              }
              long pause = Math.min(RETRY_MAX_PAUSE_MS, 100L << Math.min(n, 6));
              conn.vertx.setTimer(
                  pause, t -> attempt(exchange, routingKey, props, body, n + 1, done));
            });
  }

  private AMQP.BasicProperties properties(Envelope env) {
    AMQP.BasicProperties.Builder b = json(env.id(), env.type()).timestamp(new Date());
    if (env.correlationId() != null) b.correlationId(env.correlationId());
    return b.build();
  }

  /** Publishes with {@code props} as they are and waits for the broker's confirm. */
  Future<Void> confirmed(
      String exchange, String routingKey, AMQP.BasicProperties props, Buffer body) {
    if (conn.closed()) {
      // A publish after close would make the client reconnect and resurrect our consumers.
      return Future.failedFuture(new IllegalStateException("bus closed"));
    }
    Promise<Void> p = Promise.promise();
    long start = System.nanoTime();
    // The client's single channel must only be used from its own context.
    if (Vertx.currentContext() == conn.context) {
      confirms.publish(exchange, routingKey, props, body, start, p);
    } else {
      conn.context.runOnContext(v -> confirms.publish(exchange, routingKey, props, body, start, p));
    }
    String ex = exchange.isEmpty() ? "(default)" : exchange;
    String to = exchange.equals(topology.commands()) ? target(routingKey) : null;
    return p.future()
        .onSuccess(
            v -> {
              metrics.confirmLatency(System.nanoTime() - start);
              metrics.published(ex, true);
              if (to != null) metrics.command(to, true);
            })
        .onFailure(
            e -> {
              metrics.published(ex, false);
              if (to != null) metrics.command(to, false);
            });
  }

  private String target(String queue) {
    if (queue.startsWith(topology.namespace() + ".compute.")) return "compute";
    if (queue.equals(topology.schedulerQueue())) return "scheduler";
    if (queue.equals(topology.conductorQueue())) return "conductor";
    return "other";
  }

  /** Fails every publish still waiting for a confirm. */
  void failAll(String why) {
    confirms.failAll(why);
  }
}
