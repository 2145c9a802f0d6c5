package io.livemigrate.conductor.api;

import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.impl.ApiException;
import io.livemigrate.conductor.impl.Conductor;
import io.livemigrate.conductor.store.InstanceRow;
import io.livemigrate.conductor.store.MigrationRow;
import io.livemigrate.conductor.store.ServiceRow;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Nova-compatible compute API (v2.1, microversioned) over the conductor: what the stock {@code
 * openstack} and {@code nova} clients need for live migration. Every response carries {@code
 * X-Compute-Request-Id}; the same id is on every log line the request causes, in every service.
 * Errors use Nova's shape, e.g. {@code {"badRequest": {"code": 400, "message": "..."}}}.
 */
public final class NovaApi {
  private static final Logger LOG = LoggerFactory.getLogger(NovaApi.class);
  public static final String MIN_VERSION = "2.1";
  public static final String MAX_VERSION = "2.65";
  private static final Pattern UUID_RE =
      Pattern.compile(
          "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  private static final DateTimeFormatter NOVA_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter SERVER_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

  private final Vertx vertx;
  private final Conductor conductor;
  private final byte[] adminToken;
  private final MeterRegistry registry;
  private final long serviceDownTimeMs;

  public NovaApi(
      Vertx vertx,
      Conductor conductor,
      String adminToken,
      long serviceDownTimeMs,
      MeterRegistry registry) {
    this.vertx = vertx;
    this.conductor = conductor;
    this.adminToken = adminToken.getBytes(StandardCharsets.UTF_8);
    this.serviceDownTimeMs = serviceDownTimeMs;
    this.registry = registry;
  }

  public Future<HttpServer> listen(String host, int port) {
    return vertx.createHttpServer().requestHandler(router()).listen(port, host);
  }

  Router router() {
    Router r = Router.router(vertx);
    r.route().handler(this::requestId);
    r.route().handler(BodyHandler.create().setBodyLimit(64 * 1024));
    r.get("/")
        .handler(
            ctx -> ctx.json(new JsonObject().put("versions", new JsonArray().add(version(ctx)))));
    r.get("/v2.1").handler(ctx -> ctx.json(new JsonObject().put("version", version(ctx))));
    r.get("/v2.1/").handler(ctx -> ctx.json(new JsonObject().put("version", version(ctx))));
    r.route("/v2.1/*").handler(this::authenticate);
    r.route("/v2.1/*").handler(this::microversion);
    r.get("/v2.1/servers").handler(ctx -> servers(ctx, false));
    r.get("/v2.1/servers/detail").handler(ctx -> servers(ctx, true));
    r.get("/v2.1/servers/:id").handler(this::server);
    r.post("/v2.1/servers/:id/action").handler(this::serverAction);
    r.get("/v2.1/servers/:id/migrations").handler(this::serverMigrations);
    r.get("/v2.1/servers/:id/migrations/:mid").handler(this::serverMigration);
    r.delete("/v2.1/servers/:id/migrations/:mid").handler(this::abortMigration);
    r.post("/v2.1/servers/:id/migrations/:mid/action").handler(this::migrationAction);
    r.get("/v2.1/os-migrations").handler(this::osMigrations);
    r.get("/v2.1/os-services").handler(this::services);
    r.route().last().handler(ctx -> error(ctx, 404, "The resource could not be found."));
    // Handlers throw ApiException for bad paths and bodies; render it, pass anything else on.
    r.route()
        .failureHandler(
            ctx -> {
              if (ctx.failure() instanceof ApiException a) error(ctx, a.status(), a.getMessage());
              else ctx.next();
            });
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

  // ------------------------------------------------------------ plumbing

  private void requestId(RoutingContext ctx) {
    String id = "req-" + UUID.randomUUID();
    ctx.put("reqId", id);
    long t0 = System.nanoTime();
    ctx.response().putHeader("X-Compute-Request-Id", id).putHeader("x-openstack-request-id", id);
    ctx.addEndHandler(
        v -> {
          int status = ctx.response().getStatusCode();
          String route =
              ctx.currentRoute() == null
                  ? "unmatched"
                  : String.valueOf(ctx.currentRoute().getPath());
          Timer.builder("livemigrate_api_requests")
              .description("API requests by method, route and status")
              .tags(
                  "method", ctx.request().method().name(),
                  "route", route == null || route.equals("null") ? "other" : route,
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
    String token = ctx.request().getHeader("X-Auth-Token");
    if (token == null || token.isEmpty()) {
      error(ctx, 401, "The request you have made requires authentication.");
      return;
    }
    if (!MessageDigest.isEqual(adminToken, token.getBytes(StandardCharsets.UTF_8))) {
      error(ctx, 401, "The request you have made requires authentication.");
      return;
    }
    ctx.next();
  }

  private void microversion(RoutingContext ctx) {
    String v = ctx.request().getHeader("X-OpenStack-Nova-API-Version");
    String generic = ctx.request().getHeader("OpenStack-API-Version");
    if (generic != null && generic.trim().startsWith("compute "))
      v = generic.trim().substring(8).trim();
    if (v == null || v.isBlank()) v = MIN_VERSION;
    if (v.equalsIgnoreCase("latest")) v = MAX_VERSION;
    int[] parsed = parseVersion(v);
    if (parsed == null) {
      error(
          ctx,
          400,
          "API Version String "
              + v
              + " is of invalid format. Must be of format MajorNum.MinorNum.");
      return;
    }
    if (compare(parsed, parseVersion(MIN_VERSION)) < 0
        || compare(parsed, parseVersion(MAX_VERSION)) > 0) {
      error(
          ctx,
          406,
          "Version "
              + v
              + " is not supported by the API. Minimum is "
              + MIN_VERSION
              + " and maximum is "
              + MAX_VERSION
              + ".");
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
    String[] p = v.trim().split("\\.");
    if (p.length != 2) return null;
    try {
      int major = Integer.parseInt(p[0]);
      int minor = Integer.parseInt(p[1]);
      if (major < 0 || minor < 0) return null;
      return new int[] {major, minor};
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static int compare(int[] a, int[] b) {
    return a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]);
  }

  private static boolean atLeast(RoutingContext ctx, int minor) {
    int[] v = ctx.get("microversion");
    return v != null && (v[0] > 2 || (v[0] == 2 && v[1] >= minor));
  }

  static String errorKey(int status) {
    return switch (status) {
      case 400 -> "badRequest";
      case 401 -> "unauthorized";
      case 403 -> "forbidden";
      case 404 -> "itemNotFound";
      case 405 -> "methodNotAllowed";
      case 406 -> "notAcceptable";
      case 409 -> "conflictingRequest";
      case 413 -> "requestEntityTooLarge";
      default -> "computeFault";
    };
  }

  private static void error(RoutingContext ctx, int status, String message) {
    if (ctx.response().ended()) return;
    ctx.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .end(
            new JsonObject()
                .put(errorKey(status), new JsonObject().put("code", status).put("message", message))
                .encode());
  }

  private void fail(RoutingContext ctx, Throwable e) {
    if (e instanceof ApiException a) {
      error(ctx, a.status(), a.getMessage());
    } else {
      LOG.error("[{}] request failed", (Object) ctx.get("reqId"), e);
      error(ctx, 500, "Unexpected API Error. Please report this.");
    }
  }

  private static String uuidParam(RoutingContext ctx, String name, String what) {
    String id = ctx.pathParam(name);
    if (id == null || !UUID_RE.matcher(id).matches()) {
      throw new ApiException(404, what + " " + id + " could not be found.");
    }
    return id;
  }

  private static long idParam(RoutingContext ctx, String name) {
    try {
      return Long.parseLong(ctx.pathParam(name));
    } catch (NumberFormatException e) {
      throw new ApiException(400, "Invalid migration id " + ctx.pathParam(name) + ".");
    }
  }

  // ------------------------------------------------------------ servers

  private void servers(RoutingContext ctx, boolean detail) {
    conductor
        .db(s -> s.instances(null))
        .onSuccess(
            list -> {
              JsonArray arr = new JsonArray();
              for (InstanceRow i : list) arr.add(detail ? serverView(ctx, i) : brief(ctx, i));
              ctx.json(new JsonObject().put("servers", arr));
            })
        .onFailure(e -> fail(ctx, e));
  }

  private void server(RoutingContext ctx) {
    String id = uuidParam(ctx, "id", "Instance");
    conductor
        .db(s -> s.instance(id))
        .onSuccess(
            opt -> {
              if (opt.isEmpty()) {
                error(ctx, 404, "Instance " + id + " could not be found.");
              } else {
                ctx.json(new JsonObject().put("server", serverView(ctx, opt.get())));
              }
            })
        .onFailure(e -> fail(ctx, e));
  }

  private JsonArray links(RoutingContext ctx, String path) {
    String base = "http://" + ctx.request().authority();
    return new JsonArray()
        .add(new JsonObject().put("rel", "self").put("href", base + "/v2.1/" + path))
        .add(new JsonObject().put("rel", "bookmark").put("href", base + "/" + path));
  }

  private JsonObject brief(RoutingContext ctx, InstanceRow i) {
    return new JsonObject()
        .put("id", i.uuid())
        .put("name", i.name())
        .put("links", links(ctx, "servers/" + i.uuid()));
  }

  private JsonObject serverView(RoutingContext ctx, InstanceRow i) {
    String vmState =
        switch (i.status()) {
          case "PAUSED" -> "paused";
          case "SHUTOFF" -> "stopped";
          case "ERROR" -> "error";
          default -> "active";
        };
    JsonObject s =
        brief(ctx, i)
            .put("status", i.status())
            .put("tenant_id", i.projectId())
            .put("user_id", i.userId())
            .put("hostId", i.host() == null ? "" : Integer.toHexString(i.host().hashCode()))
            .put("created", SERVER_TIME.format(Instant.ofEpochMilli(i.createdMs())))
            .put("updated", SERVER_TIME.format(Instant.ofEpochMilli(i.updatedMs())))
            .put("addresses", new JsonObject())
            .put("metadata", new JsonObject())
            .put("image", "")
            .put("accessIPv4", "")
            .put("accessIPv6", "")
            .put("OS-EXT-SRV-ATTR:host", i.host())
            .put("OS-EXT-SRV-ATTR:hypervisor_hostname", i.host())
            .put("OS-EXT-SRV-ATTR:instance_name", i.name())
            .put("OS-EXT-STS:vm_state", vmState)
            .put("OS-EXT-STS:task_state", i.taskState())
            .put("OS-EXT-STS:power_state", "PAUSED".equals(i.status()) ? 3 : 1)
            .put("OS-EXT-AZ:availability_zone", "nova")
            .put("flavor", flavor(ctx, i));
    if ("MIGRATING".equals(i.status())) {
      s.put("progress", conductor.progressOf(i.uuid()));
    }
    return s;
  }

  private JsonObject flavor(RoutingContext ctx, InstanceRow i) {
    String name = i.flavor() == null ? "custom" : i.flavor();
    if (atLeast(ctx, 47)) {
      return new JsonObject()
          .put("original_name", name)
          .put("vcpus", i.vcpus())
          .put("ram", i.memoryMb())
          .put("disk", i.diskGb())
          .put("ephemeral", 0)
          .put("swap", 0)
          .put("extra_specs", new JsonObject());
    }
    return new JsonObject().put("id", name).put("links", new JsonArray());
  }

  private void serverAction(RoutingContext ctx) {
    String id = uuidParam(ctx, "id", "Instance");
    JsonObject body = jsonBody(ctx);
    if (!body.containsKey("os-migrateLive") || body.size() != 1) {
      String action = body.fieldNames().isEmpty() ? "(none)" : body.fieldNames().iterator().next();
      error(ctx, 400, "There is no such action: " + action);
      return;
    }
    Object raw = body.getValue("os-migrateLive");
    if (!(raw instanceof JsonObject args)) {
      error(
          ctx,
          400,
          "Invalid input for field/attribute os-migrateLive. Value: "
              + raw
              + ". It is not an object.");
      return;
    }
    String host = liveMigrateArgs(ctx, args);
    boolean block = blockMigration(args.getValue("block_migration"), ctx);
    conductor
        .liveMigrate(id, host, block, ctx.get("reqId"))
        .onSuccess(m -> ctx.response().setStatusCode(202).end())
        .onFailure(e -> fail(ctx, e));
  }

  /** Validates os-migrateLive as Nova's schema for the request's microversion does. */
  private String liveMigrateArgs(RoutingContext ctx, JsonObject args) {
    List<String> allowed =
        atLeast(ctx, 30)
            ? List.of("host", "block_migration", "force")
            : atLeast(ctx, 25)
                ? List.of("host", "block_migration")
                : List.of("host", "block_migration", "disk_over_commit");
    for (String k : args.fieldNames()) {
      if (!allowed.contains(k)) {
        throw new ApiException(
            400,
            "Invalid input for field/attribute os-migrateLive. Value: "
                + args.encode()
                + ". Additional properties are not allowed ('"
                + k
                + "' was unexpected)");
      }
    }
    if (!args.containsKey("block_migration")) {
      throw new ApiException(
          400,
          "Invalid input for field/attribute os-migrateLive. Value: "
              + args.encode()
              + ". 'block_migration' is a required property");
    }
    if (!atLeast(ctx, 30) && !args.containsKey("host")) {
      throw new ApiException(
          400,
          "Invalid input for field/attribute os-migrateLive. Value: "
              + args.encode()
              + ". 'host' is a required property");
    }
    Object h = args.getValue("host");
    if (h != null && !(h instanceof String)) {
      throw new ApiException(
          400,
          "Invalid input for field/attribute host. Value: "
              + h
              + ". "
              + h
              + " is not of type 'string', 'null'");
    }
    Object force = args.getValue("force");
    if (force != null && !(force instanceof Boolean)) {
      throw new ApiException(
          400,
          "Invalid input for field/attribute force. Value: "
              + force
              + ". "
              + force
              + " is not of type 'boolean'");
    }
    String host = (String) h;
    if (host != null && (host.isEmpty() || host.length() > 255)) {
      throw new ApiException(400, "Invalid input for field/attribute host. Value: " + host + ".");
    }
    return host;
  }

  private static boolean blockMigration(Object v, RoutingContext ctx) {
    if (v instanceof Boolean b) return b;
    if ("auto".equals(v) && atLeast(ctx, 25)) {
      // Without shared-storage detection "auto" means shared storage: no disk copy.
      return false;
    }
    throw new ApiException(
        400,
        "Invalid input for field/attribute block_migration. Value: "
            + v
            + ". "
            + v
            + " is not of type 'boolean'"
            + (atLeast(ctx, 25) ? " or 'auto'" : ""));
  }

  private static JsonObject jsonBody(RoutingContext ctx) {
    String text = ctx.body() == null ? null : ctx.body().asString();
    if (text == null || text.isBlank()) throw new ApiException(400, "Malformed request body");
    try {
      Object o = io.vertx.core.json.Json.decodeValue(text);
      if (!(o instanceof JsonObject j)) throw new ApiException(400, "Malformed request body");
      return j;
    } catch (DecodeException e) {
      throw new ApiException(400, "Malformed request body");
    }
  }

  // ------------------------------------------------------------ migrations

  private JsonObject migrationView(RoutingContext ctx, MigrationRow m, boolean withProgress) {
    JsonObject o =
        new JsonObject()
            .put("id", m.id)
            .put("server_uuid", m.instanceUuid)
            .put("instance_uuid", m.instanceUuid)
            .put("source_compute", m.sourceCompute)
            .put("source_node", m.sourceCompute)
            .put("dest_compute", m.destCompute)
            .put("dest_node", m.destCompute)
            .put("dest_host", m.destCompute)
            .put("status", m.status.wire())
            .put("migration_type", "live-migration")
            .put("created_at", NOVA_TIME.format(Instant.ofEpochMilli(m.createdMs)))
            .put("updated_at", NOVA_TIME.format(Instant.ofEpochMilli(m.updatedMs)));
    if (withProgress) {
      o.put("memory_total_bytes", m.memoryTotal)
          .put("memory_processed_bytes", m.memoryProcessed)
          .put("memory_remaining_bytes", m.memoryRemaining)
          .put("disk_total_bytes", m.diskTotal)
          .put("disk_processed_bytes", m.diskProcessed)
          .put("disk_remaining_bytes", m.diskRemaining);
    }
    if (atLeast(ctx, 59)) o.put("uuid", m.uuid);
    // Ours, beyond Nova: why it ended, how it went.
    o.put("reason", m.reason)
        .put("message", m.message)
        .put("mode", m.mode)
        .put("iteration", m.iteration)
        .put("dirty_rate_bytes_per_sec", m.dirtyRate)
        .put("expected_downtime_ms", m.expectedDowntimeMs)
        .put("downtime_ms", m.downtimeMs < 0 ? null : m.downtimeMs);
    return o;
  }

  private void serverMigrations(RoutingContext ctx) {
    String id = uuidParam(ctx, "id", "Instance");
    conductor
        .db(
            s ->
                s.instance(id).isPresent()
                    ? java.util.Optional.of(s.migrations(id, null, null, 0))
                    : java.util.Optional.<List<MigrationRow>>empty())
        .onSuccess(
            opt -> {
              if (opt.isEmpty()) {
                error(ctx, 404, "Instance " + id + " could not be found.");
                return;
              }
              JsonArray arr = new JsonArray();
              for (MigrationRow m : opt.get()) {
                if (m.status.isInProgress()) arr.add(migrationView(ctx, fresh(m), true));
              }
              ctx.json(new JsonObject().put("migrations", arr));
            })
        .onFailure(e -> fail(ctx, e));
  }

  private MigrationRow fresh(MigrationRow m) {
    return conductor.activeMigration(m.uuid).orElse(m);
  }

  private Future<MigrationRow> inProgress(RoutingContext ctx, String serverId, long mid) {
    return conductor
        .db(s -> s.migration(mid))
        .map(
            opt -> {
              MigrationRow m = opt.map(this::fresh).orElse(null);
              if (m == null || !m.instanceUuid.equals(serverId) || !m.status.isInProgress()) {
                throw new ApiException(
                    404,
                    "In-progress live migration "
                        + mid
                        + " is not found for server "
                        + serverId
                        + ".");
              }
              return m;
            });
  }

  private void serverMigration(RoutingContext ctx) {
    String id = uuidParam(ctx, "id", "Instance");
    long mid = idParam(ctx, "mid");
    inProgress(ctx, id, mid)
        .onSuccess(m -> ctx.json(new JsonObject().put("migration", migrationView(ctx, m, true))))
        .onFailure(e -> fail(ctx, e));
  }

  private void abortMigration(RoutingContext ctx) {
    String id = uuidParam(ctx, "id", "Instance");
    long mid = idParam(ctx, "mid");
    inProgress(ctx, id, mid)
        .compose(
            m -> {
              if (m.status != MigrationStatus.RUNNING && !atLeast(ctx, 65)) {
                throw new ApiException(
                    400,
                    "Migration "
                        + mid
                        + " state of instance "
                        + id
                        + " is "
                        + m.status.wire()
                        + ". Cannot abort live migration.");
              }
              return conductor.abort(m.uuid, ctx.get("reqId"));
            })
        .onSuccess(m -> ctx.response().setStatusCode(202).end())
        .onFailure(e -> fail(ctx, e));
  }

  private void migrationAction(RoutingContext ctx) {
    String id = uuidParam(ctx, "id", "Instance");
    long mid = idParam(ctx, "mid");
    JsonObject body = jsonBody(ctx);
    if (!body.containsKey("force_complete") || body.size() != 1) {
      error(ctx, 400, "There is no such action: " + String.join(",", body.fieldNames()));
      return;
    }
    inProgress(ctx, id, mid)
        .compose(m -> conductor.forceComplete(m.uuid, ctx.get("reqId")))
        .onSuccess(m -> ctx.response().setStatusCode(202).end())
        .onFailure(e -> fail(ctx, e));
  }

  private void osMigrations(RoutingContext ctx) {
    String instance = ctx.queryParams().get("instance_uuid");
    String host = ctx.queryParams().get("host");
    String status = ctx.queryParams().get("status");
    int limit;
    try {
      limit =
          ctx.queryParams().contains("limit")
              ? Integer.parseInt(ctx.queryParams().get("limit"))
              : 1000;
      if (limit < 0) throw new NumberFormatException();
    } catch (NumberFormatException e) {
      error(ctx, 400, "Invalid input for query parameters limit.");
      return;
    }
    conductor
        .db(s -> s.migrations(instance, host, status, limit))
        .onSuccess(
            list -> {
              JsonArray arr = new JsonArray();
              for (MigrationRow m : list) arr.add(migrationView(ctx, fresh(m), false));
              ctx.json(new JsonObject().put("migrations", arr));
            })
        .onFailure(e -> fail(ctx, e));
  }

  private void services(RoutingContext ctx) {
    long now = System.currentTimeMillis();
    conductor
        .db(s -> s.services())
        .onSuccess(
            list -> {
              JsonArray arr = new JsonArray();
              for (ServiceRow s : list) {
                boolean up = !s.forcedDown() && now - s.lastSeenMs() <= serviceDownTimeMs;
                arr.add(
                    new JsonObject()
                        .put("id", atLeast(ctx, 53) ? s.uuid() : s.id())
                        .put("binary", s.binary())
                        .put("host", s.host())
                        .put("zone", s.zone())
                        .put("status", s.disabled() ? "disabled" : "enabled")
                        .put("state", up ? "up" : "down")
                        .put("disabled_reason", s.disabledReason())
                        .put("forced_down", s.forcedDown())
                        .put("updated_at", NOVA_TIME.format(Instant.ofEpochMilli(s.lastSeenMs()))));
              }
              ctx.json(new JsonObject().put("services", arr));
            })
        .onFailure(e -> fail(ctx, e));
  }
}
