package io.livemigrate.conductor.app;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.Options;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.ops.OpsServer;
import io.livemigrate.common.ops.Registries;
import io.livemigrate.conductor.api.NovaApi;
import io.livemigrate.conductor.impl.Conductor;
import io.livemigrate.conductor.impl.ConductorMetrics;
import io.livemigrate.conductor.impl.ConductorSettings;
import io.livemigrate.conductor.store.Store;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;

/** Wires the conductor: store, bus, saga, the Nova-compatible API, /metrics and /health. */
public final class ConductorVerticle extends VerticleBase {
  private final Config config;
  private final String adminToken;
  private final PrometheusMeterRegistry registry = Registries.create("conductor");
  private Store store;
  private Bus bus;
  private Conductor conductor;
  private HttpServer api;
  private OpsServer ops;

  public ConductorVerticle(Config config, String adminToken) {
    this.config = config;
    this.adminToken = adminToken;
  }

  @Override
  public Future<?> start() {
    ConductorSettings settings = ConductorSettings.from(config);
    return vertx
        .executeBlocking(
            () ->
                Store.open(
                    config.string(Options.STORE_URL),
                    config.string(Options.STORE_USER),
                    config.string(Options.STORE_PASSWORD)))
        .compose(
            s -> {
              store = s;
              return Bus.connect(
                  vertx,
                  BusSettings.from(config),
                  new Sender("conductor", settings.host()),
                  registry);
            })
        .compose(
            b -> {
              bus = b;
              conductor = new Conductor(vertx, b, store, settings, new ConductorMetrics(registry));
              return conductor.start();
            })
        .compose(
            v ->
                new NovaApi(vertx, conductor, adminToken, settings.serviceDownTimeMs(), registry)
                    .listen(config.string(Options.API_LISTEN), config.integer(Options.API_PORT)))
        .compose(
            server -> {
              api = server;
              return OpsServer.start(
                  vertx,
                  config.string(Options.OPS_LISTEN),
                  config.integer(Options.OPS_PORT),
                  registry,
                  conductor::health);
            })
        .onSuccess(o -> ops = o);
  }

  @Override
  public Future<?> stop() {
    // Stop taking work first (API, then consumers), then timers and the store.
    Future<Void> f = api == null ? Future.succeededFuture() : api.close();
    return f.compose(v -> bus == null ? Future.succeededFuture() : bus.close())
        .compose(v -> ops == null ? Future.succeededFuture() : ops.close())
        .compose(v -> conductor == null ? Future.succeededFuture() : conductor.stop())
        .compose(
            v ->
                vertx.executeBlocking(
                    () -> {
                      if (store != null) store.close();
                      return null;
                    }));
  }

  public int apiPort() {
    return api.actualPort();
  }

  public int opsPort() {
    return ops.port();
  }

  public Conductor conductor() {
    return conductor;
  }
}
