package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.store.Store;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.util.function.Function;

/**
 * Runs a unit of saga work in one store transaction on the conductor's store workers (never on the
 * event loop), and only once it committed, back on the conductor's context, publishes what it
 * caused and runs its after-commit actions. The returned future completes after the commit, so a
 * bus message is acknowledged only when its effect is durable.
 */
final class TxRunner {
  private final Context context;
  private final WorkerExecutor workers;
  private final WorkerExecutor urgent;
  private final Store store;
  private final Saga saga;
  private final OutboxRelay relay;

  TxRunner(Vertx vertx, Context context, int threads, Store store, Saga saga, OutboxRelay relay) {
    this.context = context;
    // One of the pool's connections is kept for deadlines: behind a burst of messages (a conductor
    // died and its share is redelivered) they would otherwise wait for every message before them.
    this.workers = vertx.createSharedWorkerExecutor("conductor-store", Math.max(1, threads - 1));
    this.urgent = vertx.createSharedWorkerExecutor("conductor-deadlines", 1);
    this.store = store;
    this.saga = saga;
    this.relay = relay;
  }

  private record Done<T>(T result, Effects fx) {}

  /** Runs {@code work}; it may run more than once (conflict retries), so it must be pure. */
  <T> Future<T> run(Function<StepContext, T> work) {
    return run(workers, work);
  }

  /** As {@link #run}, on the thread kept for deadlines. */
  <T> Future<T> runUrgent(Function<StepContext, T> work) {
    return run(urgent, work);
  }

  /** As {@link #read}, on the thread kept for deadlines. */
  <T> Future<T> readUrgent(Store.TxWork<T> work) {
    return urgent.executeBlocking(() -> store.read(work), false);
  }

  private <T> Future<T> run(WorkerExecutor on, Function<StepContext, T> work) {
    Promise<T> p = Promise.promise();
    on.executeBlocking(
        () -> {
          Done<T> done;
          try {
            done =
                store.tx(
                    tx -> {
                      Effects fx = new Effects();
                      T r = work.apply(new StepContext(tx, System.currentTimeMillis(), fx, saga));
                      return new Done<>(r, fx);
                    });
          } catch (Throwable e) {
            context.runOnContext(v -> p.fail(e));
            return null;
          }
          // Handed over by the committing thread itself: transactions that follow each other on a
          // migration's row publish in commit order, whichever context asked for them (an API
          // call's would otherwise take one more event-loop hop than a bus handler's).
          context.runOnContext(
              v -> {
                relay.published(done.fx());
                for (Runnable r : done.fx().afterCommit) r.run();
                p.complete(done.result());
              });
          return null;
        },
        false);
    return p.future();
  }

  /** A read outside any transaction of the saga's (API queries). */
  <T> Future<T> read(Store.TxWork<T> work) {
    return workers.executeBlocking(() -> store.read(work), false);
  }

  /** Blocking store work that is not saga work (scans), on the same workers. */
  <T> Future<T> blocking(java.util.concurrent.Callable<T> work) {
    return workers.executeBlocking(work, false);
  }

  Store store() {
    return store;
  }

  Future<Void> close() {
    return workers.close().compose(v -> urgent.close());
  }
}
