package io.livemigrate.common.bus;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.ShutdownSignalException;
import io.livemigrate.common.contract.Sender;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.rabbitmq.RabbitMQClient;
import io.vertx.rabbitmq.RabbitMQOptions;
import io.vertx.rabbitmq.impl.RabbitMQClientImpl;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A bus's client and its (re)connects. Every client call runs on {@link #context}: the client has
 * one channel and races when called from elsewhere. Each (re)connect starts a new generation before
 * the client consumes again, and the client may replace its channel without reconnecting, so
 * deliveries and confirms are told apart by {@link #channelInstance}.
 */
final class BusConnection {
  /** The whole bus logs under one name, the facade's. */
  private static final Logger LOG = LoggerFactory.getLogger(Bus.class);

  final Vertx vertx;
  final Context context;
  final RabbitMQClient client;
  private final Sender sender;
  private final BusMetrics metrics;
  private final Promise<Void> firstDeclare = Promise.promise();

  /** Incremented on every (re)connect, before the client consumes again. */
  private volatile long generation;

  private boolean closed;

  BusConnection(Vertx vertx, BusSettings settings, Sender sender, BusMetrics metrics) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.sender = sender;
    this.metrics = metrics;
    RabbitMQOptions o =
        options(settings, sender.service() + "@" + sender.host())
            .setReconnectAttempts(Integer.MAX_VALUE)
            .setReconnectInterval(settings.reconnectIntervalMs())
            .setRequestedHeartbeat(10);
    this.client = RabbitMQClient.create(vertx, o);
  }

  private static RabbitMQOptions options(BusSettings settings, String connectionName) {
    RabbitMQOptions o =
        new RabbitMQOptions()
            .setUri(settings.url())
            .setConnectionName(connectionName)
            // Vert.x-level reconnect, never amqp-client recovery: the latter re-consumes on its
            // own, behind the generation bookkeeping.
            .setAutomaticRecoveryEnabled(false);
    ClientTls.apply(o, settings);
    return o;
  }

  /** Connects once, without retrying, and disconnects (see {@link Bus#probe}). */
  static Future<Void> probe(Vertx vertx, BusSettings settings) {
    RabbitMQOptions o =
        options(settings, "livemigrate-probe")
            .setAutomaticRecoveryOnInitialConnection(false)
            .setReconnectAttempts(0)
            .setConnectionTimeout(10_000)
            .setHandshakeTimeout(10_000);
    RabbitMQClient c = RabbitMQClient.create(vertx, o);
    return c.start().compose(v -> c.stop(), e -> c.stop().transform(ar -> Future.failedFuture(e)));
  }

  /**
   * Starts the client, which keeps reconnecting. On every (re)connect {@code retag} gets the new
   * generation and then {@code declare} runs; the future completes with the first declaration.
   */
  Future<Void> start(LongConsumer retag, Supplier<Future<Void>> declare) {
    client.addConnectionEstablishedCallback(p -> onConnection(p, retag, declare));
    return client.start().compose(v -> firstDeclare.future());
  }

  /**
   * Runs inside the client's connect, before it consumes again: a new generation and new consumer
   * tags first (synchronously), so that every delivery of the new connection carries a tag the
   * older ones do not; then the topology, on the bus's context.
   */
  private void onConnection(Promise<Void> p, LongConsumer retag, Supplier<Future<Void>> declare) {
    retag.accept(++generation);
    metrics.connected.set(1);
    context.runOnContext(
        v ->
            declare
                .get()
                .onComplete(
                    ar -> {
                      if (ar.failed()) {
                        LOG.error(
                            "{}@{}: topology not declared: {}",
                            sender.service(),
                            sender.host(),
                            ar.cause().toString());
                        firstDeclare.tryFail(ar.cause());
                      } else {
                        firstDeclare.tryComplete();
                      }
                      p.handle(ar);
                    }));
  }

  long generation() {
    return generation;
  }

  /** The client's channel now; it silently replaces a closed one. */
  long channelInstance() {
    return client instanceof RabbitMQClientImpl impl ? impl.getChannelInstance() : 0;
  }

  boolean closed() {
    return closed;
  }

  /** From now on nothing is published, acked or redelivered: the connection is going away. */
  void markClosed() {
    closed = true;
    metrics.connected.set(0);
  }

  static boolean isPreconditionFailed(Throwable e) {
    Integer code = replyCode(e);
    return code != null && code == 406;
  }

  /** The AMQP reply code of the channel or connection close behind {@code e}, if any. */
  static Integer replyCode(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ShutdownSignalException sse) {
        Object reason = sse.getReason();
        if (reason instanceof AMQP.Channel.Close c) return c.getReplyCode();
        if (reason instanceof AMQP.Connection.Close c) return c.getReplyCode();
      }
      if (t.getCause() == t) break;
    }
    return null;
  }
}
