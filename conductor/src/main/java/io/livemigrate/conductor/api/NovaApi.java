package io.livemigrate.conductor.api;

import static io.livemigrate.conductor.api.ApiSupport.MAX_VERSION;
import static io.livemigrate.conductor.api.ApiSupport.MIN_VERSION;
import static io.livemigrate.conductor.api.ApiSupport.clip;
import static io.livemigrate.conductor.api.ApiSupport.error;

import io.livemigrate.common.bus.TransientFailure;
import io.livemigrate.conductor.Drains;
import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.MigrationRefused;
import io.livemigrate.conductor.MigrationService;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Nova-compatible compute API (v2.1, microversions {@value ApiSupport#MIN_VERSION} to {@value
 * ApiSupport#MAX_VERSION}) over the conductor: what the stock {@code openstack} and {@code nova}
 * clients need for live migration. Every response carries {@code X-Compute-Request-Id}; the same id
 * is on every log line the request causes, in every service.
 *
 * <p>Contract: version discovery ({@code GET /}, {@code GET /v2.1}) needs no token; everything else
 * needs {@code X-Auth-Token} (401 without a valid one, 503 when Keystone cannot be asked) and, for
 * admin-only routes, the admin role (403). A version outside the range is 406, a malformed one 400,
 * a wrong method on a known path 405, an unknown path 404. Errors use Nova's shape, e.g. {@code
 * {"badRequest": {"code": 400, "message": "..."}}}; an unexpected failure is a 500 {@code
 * computeFault} and is logged.
 */
public final class NovaApi {
  private static final Logger LOG = LoggerFactory.getLogger(NovaApi.class);

  /** Request bodies above this size are refused with 413 before they are parsed. */
  static final long BODY_LIMIT = 64 * 1024;

  private final Vertx vertx;
  private final Authenticator auth;
  private final MeterRegistry registry;
  private final ServersApi servers;
  private final MigrationsApi migrations;
  private final ServicesApi services;
  private final HypervisorsApi hypervisors;
  private final HostsApi hosts;
  private final DrainApi drains;

  /**
   * @param auth who each token is: the token file and admin token, and Keystone when configured
   * @param serviceDownTimeMs heartbeat age after which a service counts as down
   */
  public NovaApi(
      Vertx vertx,
      MigrationService migrations,
      Inventory inventory,
      Drains drains,
      Authenticator auth,
      long serviceDownTimeMs,
      MeterRegistry registry) {
    this.vertx = vertx;
    this.auth = auth;
    this.registry = registry;
    this.servers = new ServersApi(inventory, migrations, serviceDownTimeMs);
    this.migrations = new MigrationsApi(inventory, migrations);
    this.services = new ServicesApi(inventory, serviceDownTimeMs);
    this.hypervisors = new HypervisorsApi(inventory, serviceDownTimeMs);
    this.hosts = new HostsApi(inventory);
    this.drains = new DrainApi(drains);
  }

  public Future<HttpServer> listen(String host, int port) {
    return listen(new HttpServerOptions().setHost(host).setPort(port));
  }

  /** Listens as {@code options} say: address, port and HTTPS (see {@code ServerTls.options}). */
  public Future<HttpServer> listen(HttpServerOptions options) {
    return vertx.createHttpServer(options).requestHandler(router()).listen();
  }

  Router router() {
    Router r = Router.router(vertx);
    r.route().handler(this::requestId);
    r.route().handler(BodyHandler.create().setBodyLimit(BODY_LIMIT).setHandleFileUploads(false));
    r.get("/").handler(ctx -> versions(ctx));
    r.get("/v2.1").handler(ctx -> ctx.json(new JsonObject().put("version", version(ctx))));
    r.get("/v2.1/").handler(ctx -> ctx.json(new JsonObject().put("version", version(ctx))));
    r.route("/v2.1/*").handler(this::authenticate);
    r.route("/v2.1/*").handler(this::microversion);
    servers.routes(r);
    migrations.routes(r);
    services.routes(r);
    hypervisors.routes(r);
    hosts.routes(r);
    drains.routes(r);
    // Handlers throw ApiException for bad paths and bodies; render it, log anything else.
    r.route()
        .failureHandler(
            ctx -> {
              Throwable f = ctx.failure();
              if (f instanceof ApiException a) {
                error(ctx, a.status(), a.getMessage());
              } else if (f instanceof MigrationRefused m) {
                error(ctx, status(m), m.getMessage());
              } else if (TransientFailure.isTransient(f)) {
                // The store is unreachable: say so, and that the client may retry.
                ctx.response().putHeader("Retry-After", "5");
                error(
                    ctx, 503, "The compute service is temporarily unavailable: " + f.getMessage());
              } else if (ctx.statusCode() == 413) {
                error(ctx, 413, "Request is too large.");
              } else if (ctx.statusCode() >= 400 && ctx.statusCode() < 500) {
                error(ctx, ctx.statusCode(), "Malformed request.");
              } else {
                LOG.error("[{}] unexpected error", (Object) ctx.get("reqId"), f);
                error(ctx, 500, "Unexpected API Error. Please report this.");
              }
            });
    r.errorHandler(404, ctx -> error(ctx, 404, "The resource could not be found."));
    r.errorHandler(405, ctx -> error(ctx, 405, "The method is not allowed for this resource."));
    r.errorHandler(413, ctx -> error(ctx, 413, "Request is too large."));
    r.errorHandler(400, ctx -> error(ctx, 400, "Malformed request."));
    r.errorHandler(
        500,
        ctx -> {
          LOG.error("[{}] unexpected error", (Object) ctx.get("reqId"), ctx.failure());
          error(ctx, 500, "Unexpected API Error. Please report this.");
        });
    return r;
  }

  /** The one mapping of the conductor's typed refusals to HTTP. */
  static int status(MigrationRefused m) {
    return switch (m.kind()) {
      case NOT_FOUND -> 404;
      case INVALID -> 400;
      case CONFLICT -> 409;
    };
  }

  // ------------------------------------------------------------ plumbing

  private void requestId(RoutingContext ctx) {
    String id = "req-" + UUID.randomUUID();
    ctx.put("reqId", id);
    long t0 = System.nanoTime();
    ctx.response().putHeader("X-Compute-Request-Id", id).putHeader("x-openstack-request-id", id);
    ctx.addEndHandler(
        v -> {
          int status = ctx.response().getStatusCode();
          String route = ctx.currentRoute() == null ? null : ctx.currentRoute().getPath();
          Timer.builder("livemigrate_api_requests")
              .description("API requests by method, route and status")
              .tags(
                  "method", ctx.request().method().name(),
                  "route", route == null ? "other" : route,
                  "status", Integer.toString(status))
              .register(registry)
              .record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
          LOG.info(
              "[{}] {} {} {} {} ms",
              id,
              ctx.request().method(),
              ctx.request().path(),
              status,
              (System.nanoTime() - t0) / 1_000_000);
        });
    ctx.next();
  }

  private void versions(RoutingContext ctx) {
    String base = "http://" + ctx.request().authority() + "/";
    JsonObject v2 =
        new JsonObject()
            .put("id", "v2.0")
            .put("status", "SUPPORTED")
            .put("version", "")
            .put("min_version", "")
            .put("updated", "2011-01-21T11:33:21Z")
            .put(
                "links",
                new JsonArray().add(new JsonObject().put("rel", "self").put("href", base + "v2/")));
    ctx.response().setStatusCode(300);
    ctx.json(new JsonObject().put("versions", new JsonArray().add(v2).add(version(ctx))));
  }

  private JsonObject version(RoutingContext ctx) {
    String base = "http://" + ctx.request().authority() + "/v2.1/";
    return new JsonObject()
        .put("id", "v2.1")
        .put("status", "CURRENT")
        .put("version", MAX_VERSION)
        .put("min_version", MIN_VERSION)
        .put("updated", "2013-07-23T11:33:21Z")
        .put("links", new JsonArray().add(new JsonObject().put("rel", "self").put("href", base)))
        .put(
            "media-types",
            new JsonArray()
                .add(
                    new JsonObject()
                        .put("base", "application/json")
                        .put("type", "application/vnd.openstack.compute+json;version=2.1")));
  }

  private void authenticate(RoutingContext ctx) {
    auth.authenticate(ctx.request().getHeader("X-Auth-Token"))
        .onComplete(
            ar -> {
              if (ar.succeeded()) {
                ctx.put("identity", ar.result());
                ctx.next();
              } else if (ar.cause() instanceof Authenticator.AuthenticationException e) {
                if (e.challenge() != null) {
                  ctx.response().putHeader("WWW-Authenticate", e.challenge());
                }
                error(ctx, e.status(), e.getMessage());
              } else {
                // Not known to be valid, so not let in; and not the caller's fault.
                LOG.error("[{}] token check failed", (Object) ctx.get("reqId"), ar.cause());
                error(ctx, 503, Authenticator.AuthenticationException.unavailable().getMessage());
              }
            });
  }

  private void microversion(RoutingContext ctx) {
    String v = ctx.request().getHeader("X-OpenStack-Nova-API-Version");
    String generic = ctx.request().getHeader("OpenStack-API-Version");
    if (generic != null) {
      // "compute 2.30" (possibly among other services, comma-separated); others are not ours.
      for (String part : generic.split(",")) {
        String p = part.trim();
        if (p.regionMatches(true, 0, "compute ", 0, 8)) v = p.substring(8).trim();
      }
    }
    if (v == null || v.isBlank()) v = MIN_VERSION;
    if (v.equalsIgnoreCase("latest")) v = MAX_VERSION;
    int[] parsed = parseVersion(v);
    if (parsed == null) {
      error(
          ctx,
          400,
          "API Version String "
              + clip(v)
              + " is of invalid format. Must be of format MajorNum.MinorNum.");
      return;
    }
    if (compare(parsed, parseVersion(MIN_VERSION)) < 0
        || compare(parsed, parseVersion(MAX_VERSION)) > 0) {
      // Nova's 406 body: computeFault with this message (osc-contract §2).
      ctx.response()
          .setStatusCode(406)
          .putHeader("Content-Type", "application/json")
          .end(
              new JsonObject()
                  .put(
                      "computeFault",
                      new JsonObject()
                          .put("code", 406)
                          .put(
                              "message",
                              "Version "
                                  + clip(v)
                                  + " is not supported by the API. Minimum is "
                                  + MIN_VERSION
                                  + " and maximum is "
                                  + MAX_VERSION
                                  + "."))
                  .encode());
      return;
    }
    String canonical = parsed[0] + "." + parsed[1];
    ctx.put("microversion", parsed);
    ctx.response()
        .putHeader("OpenStack-API-Version", "compute " + canonical)
        .putHeader("X-OpenStack-Nova-API-Version", canonical)
        .putHeader("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
    ctx.next();
  }

  private static int[] parseVersion(String v) {
    if (!v.trim().matches("\\d{1,4}\\.\\d{1,4}")) return null;
    String[] p = v.trim().split("\\.");
    return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])};
  }

  private static int compare(int[] a, int[] b) {
    return a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]);
  }
}
