package io.livemigrate.common.bus;

import com.rabbitmq.client.AMQP;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.rabbitmq.RabbitMQConfirmation;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeoutException;

/**
 * Publisher confirms tracked per channel. The client's own publisher loses its confirm listener
 * when the client replaces a closed channel without reconnecting (every later confirm then times
 * out), so the listener is installed again on whichever channel the client uses now, and what was
 * waiting on the old one fails at once (its caller publishes again).
 */
final class Confirms {
  private static final int CONFIRM_QUEUE = 1_000_000;

  private final BusConnection conn;
  private final long timeoutMs;

  /** The channel (client channel instance) our confirm listener listens on; -1 = none. */
  private long listening = -1;

  private Future<Void> installing;

  /** Publishes waiting for a confirm on {@link #listening}, by publish sequence number. */
  private final NavigableMap<Long, Pending> pending = new ConcurrentSkipListMap<>();

  Confirms(BusConnection conn, long timeoutMs) {
    this.conn = conn;
    this.timeoutMs = timeoutMs;
  }

  private final class Pending {
    final Promise<Void> promise;
    long timer = -1;
    long seq = -1;

    Pending(Promise<Void> promise) {
      this.promise = promise;
    }

    void fail(Throwable e) {
      if (timer >= 0) conn.vertx.cancelTimer(timer);
      promise.tryFail(e);
    }

    void succeed() {
      if (timer >= 0) conn.vertx.cancelTimer(timer);
      promise.tryComplete();
    }
  }

  /** Publishes on the bus's context; {@code p} completes with the confirm or fails. */
  void publish(
      String exchange,
      String routingKey,
      AMQP.BasicProperties props,
      Buffer body,
      long start,
      Promise<Void> p) {
    long deadline = start + timeoutMs * 1_000_000;
    Pending pd = new Pending(p);
    pd.timer =
        conn.vertx.setTimer(
            timeoutMs,
            t -> {
              if (pd.seq >= 0) pending.remove(pd.seq, pd);
              pd.promise.tryFail(
                  new TimeoutException(
                      "no broker confirm within "
                          + timeoutMs
                          + " ms for "
                          + exchange
                          + "/"
                          + routingKey));
            });
    whenConnected(deadline)
        .compose(v -> listen())
        .compose(
            v -> {
              long on = listening;
              return conn.client.basicPublishWithDeliveryTag(
                  exchange,
                  routingKey,
                  props,
                  body,
                  seq -> {
                    // On the client's worker thread, just before the publish.
                    pd.seq = seq;
                    if (conn.channelInstance() == on) {
                      pending.put(seq, pd);
                    } else {
                      conn.context.runOnContext(
                          x ->
                              pd.fail(
                                  new IllegalStateException(
                                      "the channel was replaced; publish again")));
                    }
                  });
            })
        .onFailure(pd::fail);
  }

  /** Waits (polling, bounded by {@code deadline}) for the client to be connected. */
  private Future<Void> whenConnected(long deadline) {
    if (conn.client.isConnected() || conn.closed()) return Future.succeededFuture();
    if (System.nanoTime() > deadline) {
      return Future.failedFuture(new IllegalStateException("not connected to the broker"));
    }
    Promise<Void> p = Promise.promise();
    conn.vertx.setTimer(100, t -> whenConnected(deadline).onComplete(p));
    return p.future();
  }

  private Future<Void> listen() {
    if (listening >= 0 && listening == conn.channelInstance()) return Future.succeededFuture();
    // A finished attempt is never reused: one that failed while the client was reconnecting
    // (even synchronously, "Not connected") must not fail every later publish.
    if (installing != null && !installing.isComplete()) return installing;
    failAll("the channel was replaced before the broker confirmed; publish again");
    installing =
        conn.client
            .addConfirmListener(CONFIRM_QUEUE)
            .map(
                stream -> {
                  long on = conn.channelInstance();
                  stream.handler(c -> onConfirm(on, c));
                  listening = on;
                  return (Void) null;
                });
    return installing;
  }

  private void onConfirm(long on, RabbitMQConfirmation c) {
    if (on != listening) return; // a late confirm of a channel given up on
    Map<Long, Pending> done =
        c.isMultiple()
            ? pending.headMap(c.getDeliveryTag(), true)
            : pending.subMap(c.getDeliveryTag(), true, c.getDeliveryTag(), true);
    for (Pending pd : List.copyOf(done.values())) {
      if (c.isSucceeded()) pd.succeed();
      else pd.fail(new IllegalStateException("the broker refused the message (nack)"));
    }
    done.clear();
  }

  void failAll(String why) {
    if (pending.isEmpty()) return;
    IllegalStateException e = new IllegalStateException(why);
    for (Pending pd : List.copyOf(pending.values())) pd.fail(e);
    pending.clear();
  }
}
