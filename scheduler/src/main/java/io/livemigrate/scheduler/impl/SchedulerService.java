package io.livemigrate.scheduler.impl;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.Identities;
import io.livemigrate.common.bus.SenderCheck;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.ServiceHeartbeat;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.InFlight;
import io.livemigrate.common.contract.SchedulerMessages.ReleaseClaim;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.common.contract.SchedulerMessages.ServiceStatus;
import io.livemigrate.common.log.Ctx;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The scheduler service: keeps host state from agent events and answers select_destinations. */
public final class SchedulerService {
  private static final Logger LOG = LoggerFactory.getLogger(SchedulerService.class);

  private final Bus bus;
  private final HostScheduler scheduler;
  private final MeterRegistry registry;
  private final Timer decisionTimer;

  public SchedulerService(Bus bus, HostScheduler scheduler, MeterRegistry registry) {
    this.bus = bus;
    this.scheduler = scheduler;
    this.registry = registry;
    this.decisionTimer =
        Timer.builder("livemigrate_scheduler_decision_latency")
            .description("Time to filter and weigh hosts for one request")
            .publishPercentileHistogram()
            .register(registry);
    registry.gauge("livemigrate_scheduler_hosts", scheduler, HostScheduler::size);
    registry.gauge("livemigrate_scheduler_claims_in_flight", scheduler, HostScheduler::inFlight);
  }

  public Future<Void> start() {
    return bus.consume(
        bus.topology().schedulerQueue(),
        List.of("service.#", "host.#"),
        senders(bus.identities()),
        this::handle);
  }

  /**
   * Who may tell the scheduler what: heartbeats and host reports only the compute host they are
   * about; requests, releases and service statuses only the conductor. A refused message is parked
   * by the bus (cause {@code forbidden}) and never reaches {@link #handle}.
   */
  static SenderCheck senders(Identities ids) {
    SenderCheck fromConductor = ids.onlyFrom(ids.conductor());
    SenderCheck reports = ids.ownHostReports();
    return ids.members()
        .and(
            (env, body) -> {
              if (body instanceof HostReport || body instanceof ServiceHeartbeat) {
                return reports.refuse(env, body);
              }
              if (body instanceof SelectDestinations
                  || body instanceof ReleaseClaim
                  || body instanceof ServiceStatus) {
                return fromConductor.refuse(env, body);
              }
              return null; // not a scheduler message: the handler parks it as invalid
            });
  }

  private Future<Void> handle(Envelope env, Message body) {
    long now = System.currentTimeMillis();
    if (body instanceof HostReport r) {
      scheduler.onReport(r, now);
      return Future.succeededFuture();
    }
    if (body instanceof ServiceHeartbeat hb) {
      scheduler.onHeartbeat(hb.host(), now);
      return Future.succeededFuture();
    }
    if (body instanceof ServiceStatus s) {
      scheduler.onStatus(s);
      return Future.succeededFuture();
    }
    if (body instanceof ReleaseClaim r) {
      scheduler.release(r.instanceUuid(), r.outcome(), now);
      Counter.builder("livemigrate_scheduler_claims_released")
          .description("Destination claims released by the conductor, by migration outcome")
          .tag("outcome", r.outcome())
          .register(registry)
          .increment();
      return Future.succeededFuture();
    }
    if (body instanceof InFlight f) {
      long before = scheduler.leakedClaims();
      scheduler.inFlight(f, now);
      long dropped = scheduler.leakedClaims() - before;
      if (dropped > 0) {
        LOG.warn(
            "{} claim(s) dropped: their migrations are no longer in flight (a release was lost)",
            dropped);
        Counter.builder("livemigrate_scheduler_claims_leaked")
            .description("Claims dropped because the conductor's snapshot no longer lists them")
            .register(registry)
            .increment(dropped);
      }
      return Future.succeededFuture();
    }
    if (body instanceof SelectDestinations req) {
      return select(env, req, now);
    }
    throw new InvalidMessageException(env.type() + " is not a scheduler message");
  }

  private Future<Void> select(Envelope env, SelectDestinations req, long now) {
    Ctx ctx = Ctx.of(env.requestId(), env.migrationId(), req.instanceUuid());
    long t0 = System.nanoTime();
    Destinations d = scheduler.select(req, now);
    decisionTimer.record(System.nanoTime() - t0, java.util.concurrent.TimeUnit.NANOSECONDS);
    Counter.builder("livemigrate_scheduler_decisions")
        .description("select_destinations answered, by whether any host fit")
        .tag(
            "outcome",
            d.waitReason() != null ? "wait" : d.hosts().isEmpty() ? "no_valid_host" : "selected")
        .register(registry)
        .increment();
    if (d.waitReason() != null) {
      LOG.info("{} {} must wait: {}", ctx, req.instanceUuid(), d.waitReason());
    } else if (d.hosts().isEmpty()) {
      LOG.warn(
          "{} no valid host for {} from {}: {}",
          ctx,
          req.instanceUuid(),
          req.sourceHost(),
          d.rejected());
    } else {
      LOG.info(
          "{} destinations for {} from {}: {} (rejected: {})",
          ctx,
          req.instanceUuid(),
          req.sourceHost(),
          d.hosts(),
          d.rejected());
    }
    String to = env.replyTo() != null ? env.replyTo() : bus.topology().conductorQueue();
    return bus.send(to, env.reply(d, bus.sender()));
  }

  public JsonObject health() {
    return new JsonObject()
        .put("status", bus.isConnected() ? "UP" : "DOWN")
        .put("hosts", scheduler.size());
  }
}
