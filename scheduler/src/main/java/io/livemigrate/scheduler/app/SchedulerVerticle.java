package io.livemigrate.scheduler.app;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.SchedulerOptions;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.ops.OpsServer;
import io.livemigrate.common.ops.Registries;
import io.livemigrate.scheduler.impl.HostScheduler;
import io.livemigrate.scheduler.impl.SchedulerService;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;

/** Wires the scheduler: bus, service, /metrics and /health. */
public final class SchedulerVerticle extends VerticleBase {
  private final Config config;
  private final PrometheusMeterRegistry registry = Registries.create("scheduler");
  private PrometheusMeterRegistry vertxRegistry;
  private Bus bus;
  private OpsServer ops;

  public SchedulerVerticle(Config config) {
    this.config = config;
  }

  /**
   * Also exports Vert.x's own metrics from this service's {@code /metrics}: the registry the Vertx
   * was created with ({@link Registries#vertx}). One service per Vertx should do this.
   */
  public SchedulerVerticle exportVertxMetrics(PrometheusMeterRegistry vertxRegistry) {
    this.vertxRegistry = vertxRegistry;
    return this;
  }

  @Override
  public Future<?> start() {
    return Bus.connect(
            vertx, BusSettings.from(config), new Sender("scheduler", config.host()), registry)
        .compose(
            b -> {
              bus = b;
              HostScheduler scheduler =
                  new HostScheduler(
                      config.longValue(DefaultOptions.SERVICE_DOWN_TIME) * 1000,
                      config.integer(SchedulerOptions.CLUSTER_MAX_LIVE_MIGRATIONS),
                      new HostScheduler.Weights(
                          config.decimal(SchedulerOptions.RAM_WEIGHT_MULTIPLIER),
                          config.decimal(SchedulerOptions.CPU_WEIGHT_MULTIPLIER),
                          config.decimal(SchedulerOptions.MIGRATION_WEIGHT_MULTIPLIER)));
              // Every host reports within a report interval; until then, do not refuse.
              scheduler.warmUpUntil(
                  System.currentTimeMillis()
                      + 2000 * config.longValue(DefaultOptions.REPORT_INTERVAL));
              SchedulerService svc = new SchedulerService(b, scheduler, registry);
              return svc.start()
                  .compose(v -> OpsServer.start(vertx, config, registries(), svc::health));
            })
        .onSuccess(o -> ops = o);
  }

  @Override
  public Future<?> stop() {
    return (ops == null ? Future.succeededFuture() : ops.close())
        .compose(v -> bus == null ? Future.succeededFuture() : bus.close());
  }

  public int opsPort() {
    return ops.port();
  }

  private java.util.List<PrometheusMeterRegistry> registries() {
    return vertxRegistry == null
        ? java.util.List.of(registry)
        : java.util.List.of(registry, vertxRegistry);
  }
}
