package io.livemigrate.common.testing;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.contract.Sender;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.rabbitmq.RabbitMQMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Buses for a test, all created and used on one Vert.x context (the client's channel must only be
 * used from there); the test thread waits on futures. Closes every bus it connected.
 */
public final class Buses implements AutoCloseable {
  public static final long WAIT_MS = 20_000;

  private final Vertx vertx;
  private final Context ctx;
  private final List<Bus> buses = new ArrayList<>();

  public Buses(Vertx vertx) {
    this.vertx = vertx;
    this.ctx = vertx.getOrCreateContext();
  }

  public Vertx vertx() {
    return vertx;
  }

  public Bus connect(BusSettings s, Sender sender, MeterRegistry registry) {
    Bus b = on(() -> Bus.connect(vertx, s, sender, registry));
    buses.add(b);
    return b;
  }

  /** Runs {@code op} on the context and waits for its result; a failure is thrown as is. */
  public <T> T on(Supplier<Future<T>> op) {
    Promise<T> p = Promise.promise();
    ctx.runOnContext(
        v -> {
          try {
            op.get().onComplete(p);
          } catch (Throwable t) {
            p.fail(t);
          }
        });
    try {
      return p.future().await(WAIT_MS + 10_000, TimeUnit.MILLISECONDS);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /** Like {@link #on}, but returns the failure (or null when it succeeded). */
  public Throwable failure(Supplier<Future<?>> op) {
    try {
      on(op::get);
      return null;
    } catch (Throwable t) {
      return t;
    }
  }

  public void eventually(String what, Supplier<Boolean> condition) {
    eventuallyAsync(what, () -> Future.succeededFuture(condition.get()));
  }

  /** Polls {@code condition} on the context with short timers until true or the deadline. */
  public void eventuallyAsync(String what, Supplier<Future<Boolean>> condition) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
    on(
        () -> {
          Promise<Void> done = Promise.promise();
          poll(what, condition, deadline, done);
          return done.future();
        });
  }

  private void poll(
      String what, Supplier<Future<Boolean>> condition, long deadline, Promise<Void> done) {
    Future<Boolean> f;
    try {
      f = condition.get();
    } catch (Throwable t) {
      f = Future.failedFuture(t);
    }
    f.onComplete(
        ar -> {
          if (ar.succeeded() && Boolean.TRUE.equals(ar.result())) {
            done.complete();
          } else if (System.nanoTime() > deadline) {
            done.fail(
                new AssertionError(
                    "timed out waiting until "
                        + what
                        + (ar.failed() ? " (" + ar.cause() + ")" : "")));
          } else {
            vertx.setTimer(25, t -> poll(what, condition, deadline, done));
          }
        });
  }

  /** Lets {@code ms} pass on a Vert.x timer, for checks that something does not happen. */
  public void pause(long ms) {
    on(
        () -> {
          Promise<Void> p = Promise.promise();
          vertx.setTimer(ms, t -> p.complete());
          return p.future();
        });
  }

  /** Takes every message off {@code queue} (acking it), waiting until there are {@code n}. */
  public List<RabbitMQMessage> drain(Bus bus, String queue, int n) {
    List<RabbitMQMessage> out = new ArrayList<>();
    eventuallyAsync(
        n + " message(s) in " + queue,
        () ->
            bus.get(queue)
                .map(
                    m -> {
                      if (m != null) out.add(m);
                      return out.size() >= n;
                    }));
    return out;
  }

  /** Sum of the counters named {@code name} with the given tags (key, value, ...). */
  public static double count(MeterRegistry registry, String name, String... tags) {
    return registry.find(name).tags(tags).counters().stream().mapToDouble(Counter::count).sum();
  }

  @Override
  public void close() {
    for (Bus b : buses) {
      try {
        on(b::close);
      } catch (Throwable t) {
        // go on closing the others
      }
    }
    buses.clear();
  }
}
