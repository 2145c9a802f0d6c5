package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.SchedulerMessages.ServiceStatus;
import io.livemigrate.conductor.ServiceRow;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's enable / disable / forced-down of compute services: the store and a {@link
 * ServiceStatus} to the scheduler in one transaction (the message through the outbox), so a
 * disabled or forced-down host is never chosen. Every status is also sent again at start and every
 * {@code resendMs}, because the scheduler keeps them only in memory and may have restarted.
 *
 * <p>The status goes straight to the scheduler's queue rather than to the events exchange: the
 * conductor's own queue is bound to {@code service.#} and would park a message it does not handle.
 */
final class ServiceAdmin {
  private static final Logger LOG = LoggerFactory.getLogger(ServiceAdmin.class);

  private final Vertx vertx;
  private final TxRunner tx;
  private final Bus bus;
  private final Messages messages;
  private final long resendMs;
  private long timer = -1;

  ServiceAdmin(Vertx vertx, TxRunner tx, Bus bus, Messages messages, long resendMs) {
    this.vertx = vertx;
    this.tx = tx;
    this.bus = bus;
    this.messages = messages;
    this.resendMs = resendMs;
  }

  /** Sends every service's status now and then periodically. */
  Future<Void> start() {
    timer = vertx.setPeriodic(resendMs, id -> resendAll());
    return resendAll().recover(e -> Future.succeededFuture());
  }

  void stop() {
    if (timer >= 0) vertx.cancelTimer(timer);
  }

  private Future<Void> resendAll() {
    return tx.read(t -> t.inventory().services())
        .compose(
            list -> {
              Future<Void> f = Future.succeededFuture();
              for (ServiceRow r : list) {
                f =
                    f.compose(
                        v -> bus.send(bus.topology().schedulerQueue(), status(r, messages, null)));
              }
              return f;
            })
        .onFailure(e -> LOG.debug("resending service statuses failed: {}", e.toString()));
  }

  private static Envelope status(ServiceRow r, Messages messages, String requestId) {
    Envelope env =
        Envelope.of(
            new ServiceStatus(r.host(), r.disabled(), r.disabledReason(), r.forcedDown()),
            messages.sender());
    return requestId == null ? env : env.withMigration(null, requestId);
  }

  /**
   * Changes a service's flags; any argument left null keeps its current value.
   *
   * @return the updated row, or empty when no such service exists
   */
  Future<Optional<ServiceRow>> update(
      String host,
      String binary,
      Boolean disabled,
      String reason,
      Boolean forcedDown,
      String requestId) {
    return tx.run(c -> apply(c, host, binary, disabled, reason, forcedDown, requestId));
  }

  /** {@link #update} inside the caller's transaction (a drain disables its host this way). */
  static Optional<ServiceRow> apply(
      StepContext c,
      String host,
      String binary,
      Boolean disabled,
      String reason,
      Boolean forcedDown,
      String requestId) {
    Optional<ServiceRow> cur = c.tx().inventory().service(host, binary);
    if (cur.isEmpty()) return cur;
    ServiceRow r = cur.get();
    boolean d = disabled == null ? r.disabled() : disabled;
    // Enabling clears the reason, as Nova does.
    String why = d ? (reason != null ? reason : r.disabledReason()) : null;
    boolean fd = forcedDown == null ? r.forcedDown() : forcedDown;
    c.tx().inventory().setServiceStatus(host, binary, d, why, fd);
    ServiceRow a = c.tx().inventory().service(host, binary).orElseThrow();
    c.messages()
        .send(c, c.messages().topology().schedulerQueue(), status(a, c.messages(), requestId));
    c.fx()
        .afterCommit(
            () ->
                LOG.info(
                    "[{}] service {} on {}: disabled={} reason={} forced_down={}",
                    requestId,
                    a.binary(),
                    a.host(),
                    a.disabled(),
                    a.disabledReason(),
                    a.forcedDown()));
    return Optional.of(a);
  }
}
