package io.livemigrate.common.ops;

import io.livemigrate.common.config.Config;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.function.Supplier;

/**
 * Serves {@code /metrics} (Prometheus text) and {@code /health} (JSON; 200 when healthy, 503 when
 * not) for one service. Scrapes are rendered on a worker thread so a large registry never stalls
 * the event loop.
 */
public final class OpsServer {
  private final HttpServer server;

  private OpsServer(HttpServer server) {
    this.server = server;
  }

  /**
   * Starts the server.
   *
   * @param registries exported in this order, each family once (the service's registry, then
   *     optionally the Vert.x registry of {@link Registries#forVertx})
   * @param health returns a JSON object with at least {@code "status": "UP"|"DOWN"}
   */
  public static Future<OpsServer> start(
      Vertx vertx,
      String host,
      int port,
      List<PrometheusMeterRegistry> registries,
      Supplier<JsonObject> health) {
    return start(vertx, new HttpServerOptions().setHost(host).setPort(port), registries, health);
  }

  /**
   * Starts the server as {@code [ops]} configures it: address, port and, with a certificate, HTTPS
   * ({@link ServerTls#ops}).
   */
  public static Future<OpsServer> start(
      Vertx vertx,
      Config config,
      List<PrometheusMeterRegistry> registries,
      Supplier<JsonObject> health) {
    HttpServerOptions o;
    try {
      o = ServerTls.ops(config);
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(new IllegalArgumentException("[ops] " + e.getMessage(), e));
    }
    return start(vertx, o, registries, health);
  }

  /** Starts the server with the given listener options (address, port, TLS). */
  public static Future<OpsServer> start(
      Vertx vertx,
      HttpServerOptions options,
      List<PrometheusMeterRegistry> registries,
      Supplier<JsonObject> health) {
    HttpServer s =
        vertx
            .createHttpServer(options)
            .requestHandler(
                req -> {
                  String path = req.path();
                  if (path.equals("/metrics")) {
                    vertx
                        .executeBlocking(() -> scrape(registries), false)
                        .onSuccess(
                            text ->
                                req.response()
                                    .putHeader("Content-Type", "text/plain; version=0.0.4")
                                    .end(text))
                        .onFailure(e -> req.response().setStatusCode(500).end(e.toString()));
                  } else if (path.equals("/health")) {
                    JsonObject h = health.get();
                    boolean up = "UP".equals(h.getString("status"));
                    req.response()
                        .setStatusCode(up ? 200 : 503)
                        .putHeader("Content-Type", "application/json")
                        .end(h.encode());
                  } else {
                    req.response().setStatusCode(404).end();
                  }
                });
    return s.listen().map(OpsServer::new);
  }

  /** Starts the server for one registry. */
  public static Future<OpsServer> start(
      Vertx vertx,
      String host,
      int port,
      PrometheusMeterRegistry registry,
      Supplier<JsonObject> health) {
    return start(vertx, host, port, List.of(registry), health);
  }

  private static String scrape(List<PrometheusMeterRegistry> registries) {
    StringBuilder b = new StringBuilder();
    for (PrometheusMeterRegistry r : registries) b.append(r.scrape());
    return b.toString();
  }

  public int port() {
    return server.actualPort();
  }

  public Future<Void> close() {
    return server.close();
  }
}
