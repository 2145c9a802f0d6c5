package io.livemigrate.conductor.app;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.Options;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.ops.OpsServer;
import io.livemigrate.common.ops.Registries;
import io.livemigrate.conductor.api.Auth;
import io.livemigrate.conductor.api.NovaApi;
import io.livemigrate.conductor.impl.Conductor;
import io.livemigrate.conductor.impl.ConductorMetrics;
import io.livemigrate.conductor.impl.ConductorSettings;
import io.livemigrate.conductor.impl.DrainService;
import io.livemigrate.conductor.impl.ServiceAdmin;
import io.livemigrate.conductor.store.Store;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import java.nio.file.Path;

/** Wires the conductor: store, bus, saga, the Nova-compatible API, /metrics and /health. */
public final class ConductorVerticle extends VerticleBase {
  private final Config config;
  private final String adminToken;
  private final PrometheusMeterRegistry registry = Registries.create("conductor");
  private PrometheusMeterRegistry vertxRegistry;
  private Store store;
  private Bus bus;
  private Conductor conductor;
  private ServiceAdmin serviceAdmin;
  private DrainService drains;
  private HttpServer api;
  private OpsServer ops;

  /**
   * @param adminToken the admin token (may be null or blank when {@code [api] token_file} lists
   *     tokens); start fails when the token file is unreadable or malformed
   */
  public ConductorVerticle(Config config, String adminToken) {
    this.config = config;
    this.adminToken = adminToken;
  }

  /**
   * Also exports Vert.x's own metrics from this service's {@code /metrics}: the registry the Vertx
   * was created with ({@link Registries#vertx}). One service per Vertx should do this.
   */
  public ConductorVerticle exportVertxMetrics(PrometheusMeterRegistry vertxRegistry) {
    this.vertxRegistry = vertxRegistry;
    return this;
  }

  @Override
  public Future<?> start() {
    ConductorSettings settings = ConductorSettings.from(config);
    String tokenFile = config.string(Options.API_TOKEN_FILE);
    Auth auth;
    try {
      auth =
          Auth.load(
              adminToken, tokenFile == null || tokenFile.isBlank() ? null : Path.of(tokenFile));
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
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
            v -> {
              // Resend statuses at half the down time: a restarted scheduler learns them quickly.
              serviceAdmin =
                  new ServiceAdmin(
                      vertx, conductor, Math.max(1000, settings.serviceDownTimeMs() / 2));
              drains = new DrainService(vertx, conductor, serviceAdmin);
              return serviceAdmin.start();
            })
        .compose(
            v ->
                new NovaApi(
                        vertx,
                        conductor,
                        serviceAdmin,
                        drains,
                        auth,
                        settings.serviceDownTimeMs(),
                        registry)
                    .listen(config.string(Options.API_LISTEN), config.integer(Options.API_PORT)))
        .compose(
            server -> {
              api = server;
              return OpsServer.start(
                  vertx,
                  config.string(Options.OPS_LISTEN),
                  config.integer(Options.OPS_PORT),
                  registries(),
                  conductor::health);
            })
        .onSuccess(o -> ops = o);
  }

  @Override
  public Future<?> stop() {
    // Stop taking work first (API, then consumers), then timers and the store.
    if (serviceAdmin != null) serviceAdmin.stop();
    if (drains != null) drains.stop();
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

  private java.util.List<PrometheusMeterRegistry> registries() {
    return vertxRegistry == null
        ? java.util.List.of(registry)
        : java.util.List.of(registry, vertxRegistry);
  }
}
