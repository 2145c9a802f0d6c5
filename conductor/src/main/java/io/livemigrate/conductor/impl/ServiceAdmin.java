package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.SchedulerMessages.ServiceStatus;
import io.livemigrate.conductor.store.ServiceRow;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's enable / disable / forced-down of compute services: writes the store, then tells
 * the scheduler (a {@link ServiceStatus} sent to its queue) so a disabled or forced-down host is
 * never chosen. The statuses are sent again at start and every {@code resendMs}, because the
 * scheduler keeps them only in memory and may have restarted.
 *
 * <p>The status goes straight to the scheduler's queue rather than to the events exchange: the
 * conductor's own queue is bound to {@code service.#} and would park a message it does not handle.
 *
 * <p>Failures (store or bus) fail the returned future; the store write happens first, so a bus
 * failure leaves the new status stored and the next resend delivers it.
 */
public final class ServiceAdmin {
  private static final Logger LOG = LoggerFactory.getLogger(ServiceAdmin.class);

  private final Vertx vertx;
  private final Conductor conductor;
  private final long resendMs;
  private long timer = -1;

  public ServiceAdmin(Vertx vertx, Conductor conductor, long resendMs) {
    this.vertx = vertx;
    this.conductor = conductor;
    this.resendMs = resendMs;
  }

  /** Sends every service's status now and then periodically. */
  public Future<Void> start() {
    timer = vertx.setPeriodic(resendMs, id -> resendAll());
    return resendAll().recover(e -> Future.succeededFuture());
  }

  public void stop() {
    if (timer >= 0) vertx.cancelTimer(timer);
  }

  private Future<Void> resendAll() {
    return conductor
        .db(s -> s.services())
        .compose(
            list -> {
              Future<Void> f = Future.succeededFuture();
              for (ServiceRow r : list) f = f.compose(v -> publish(r, null));
              return f;
            })
        .onFailure(e -> LOG.warn("resending service statuses failed: {}", e.toString()));
  }

  /**
   * Changes a service's flags; any argument left null keeps its current value.
   *
   * @return the updated row, or empty when no such service exists
   */
  public Future<Optional<ServiceRow>> update(
      String host,
      String binary,
      Boolean disabled,
      String reason,
      Boolean forcedDown,
      String requestId) {
    return conductor
        .db(
            s -> {
              Optional<ServiceRow> cur = s.service(host, binary);
              if (cur.isEmpty()) return cur;
              ServiceRow r = cur.get();
              boolean d = disabled == null ? r.disabled() : disabled;
              // Enabling clears the reason, as Nova does.
              String why = d ? (reason != null ? reason : r.disabledReason()) : null;
              boolean fd = forcedDown == null ? r.forcedDown() : forcedDown;
              s.setServiceStatus(host, binary, d, why, fd);
              return s.service(host, binary);
            })
        .compose(
            opt -> {
              if (opt.isEmpty()) return Future.succeededFuture(opt);
              ServiceRow r = opt.get();
              LOG.info(
                  "[{}] service {} on {}: disabled={} reason={} forced_down={}",
                  requestId,
                  r.binary(),
                  r.host(),
                  r.disabled(),
                  r.disabledReason(),
                  r.forcedDown());
              return publish(r, requestId).map(v -> opt);
            });
  }

  /** All services, for lookups by uuid or id. */
  public Future<List<ServiceRow>> services() {
    return conductor.db(s -> s.services());
  }

  private Future<Void> publish(ServiceRow r, String requestId) {
    Envelope env =
        Envelope.of(
            new ServiceStatus(r.host(), r.disabled(), r.disabledReason(), r.forcedDown()),
            conductor.bus().sender());
    if (requestId != null) env = env.withMigration(null, requestId);
    return conductor.bus().send(conductor.bus().topology().schedulerQueue(), env);
  }
}
