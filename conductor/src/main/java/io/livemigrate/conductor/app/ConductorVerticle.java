package io.livemigrate.conductor.app;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.config.ApiOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.ops.OpsServer;
import io.livemigrate.common.ops.Registries;
import io.livemigrate.common.ops.ServerTls;
import io.livemigrate.conductor.api.Auth;
import io.livemigrate.conductor.api.Authenticator;
import io.livemigrate.conductor.api.NovaApi;
import io.livemigrate.conductor.api.keystone.KeystoneAuthenticator;
import io.livemigrate.conductor.api.keystone.KeystoneSettings;
import io.livemigrate.conductor.impl.ConductorMetrics;
import io.livemigrate.conductor.impl.ConductorService;
import io.livemigrate.conductor.impl.ConductorSettings;
import io.livemigrate.conductor.store.Store;
import io.livemigrate.conductor.store.StoreSettings;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import java.nio.file.Path;
import java.util.List;

/**
 * Wires one conductor: store, bus, the conductor service, the Nova-compatible API, /metrics and
 * /health. Several may run on one store; each serves the API.
 */
public final class ConductorVerticle extends VerticleBase {
  private final Config config;
  private final String adminToken;
  private final PrometheusMeterRegistry registry = Registries.create("conductor");
  private PrometheusMeterRegistry vertxRegistry;
  private Store store;
  private Bus bus;
  private ConductorService conductor;
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
    StoreSettings storeSettings = StoreSettings.from(config);
    String tokenFile = config.string(ApiOptions.API_TOKEN_FILE);
    Authenticator auth;
    try {
      Auth local =
          Auth.load(
              adminToken, tokenFile == null || tokenFile.isBlank() ? null : Path.of(tokenFile));
      KeystoneSettings keystone = KeystoneSettings.from(config);
      // Local tokens first: they cost no round trip and work while Keystone is down.
      auth =
          keystone == null
              ? local
              : Authenticator.firstOf(List.of(local, new KeystoneAuthenticator(vertx, keystone)));
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    return vertx
        .executeBlocking(() -> Store.open(storeSettings))
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
              conductor =
                  new ConductorService(
                      vertx,
                      b,
                      store,
                      settings,
                      new ConductorMetrics(registry),
                      storeSettings.poolSize());
              return conductor.start();
            })
        .compose(
            v ->
                new NovaApi(
                        vertx,
                        conductor.migrations(),
                        conductor.inventory(),
                        conductor.drains(),
                        auth,
                        settings.serviceDownTimeMs(),
                        registry)
                    .listen(
                        // The API's own keys; ServerTls is the one factory for every listener.
                        ServerTls.options(
                            config.string(ApiOptions.API_LISTEN),
                            config.integer(ApiOptions.API_PORT),
                            config.string(ApiOptions.API_SSL_CERT_FILE),
                            config.string(ApiOptions.API_SSL_KEY_FILE),
                            "")))
        .compose(
            server -> {
              api = server;
              return OpsServer.start(vertx, config, registries(), conductor::health);
            })
        .onSuccess(o -> ops = o);
  }

  @Override
  public Future<?> stop() {
    // Stop taking work first (API, then consumers), then the scans and the store.
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

  /** The conductor's services, for tests that drive it below the API. */
  public ConductorService conductor() {
    return conductor;
  }

  private List<PrometheusMeterRegistry> registries() {
    return vertxRegistry == null ? List.of(registry) : List.of(registry, vertxRegistry);
  }
}
