package io.livemigrate.conductor.api;

import static io.livemigrate.conductor.api.ApiSupport.atLeast;
import static io.livemigrate.conductor.api.ApiSupport.clip;
import static io.livemigrate.conductor.api.ApiSupport.error;
import static io.livemigrate.conductor.api.ApiSupport.intParam;
import static io.livemigrate.conductor.api.ApiSupport.invalid;
import static io.livemigrate.conductor.api.ApiSupport.invalidQuery;
import static io.livemigrate.conductor.api.ApiSupport.jsonBody;
import static io.livemigrate.conductor.api.ApiSupport.links;
import static io.livemigrate.conductor.api.ApiSupport.migrationIdParam;
import static io.livemigrate.conductor.api.ApiSupport.minor;
import static io.livemigrate.conductor.api.ApiSupport.requireAdmin;
import static io.livemigrate.conductor.api.ApiSupport.requireVersion;
import static io.livemigrate.conductor.api.ApiSupport.uuidParam;

import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.MigrationQuery;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationService;
import io.livemigrate.conductor.MigrationViews;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/**
 * A server's migrations (list, show, abort, force-complete) and {@code /os-migrations}, filtered
 * and paged in the store. Admin-only, as in Nova's default policy.
 */
final class MigrationsApi {
  private final Inventory inventory;
  private final MigrationService migrations;

  MigrationsApi(Inventory inventory, MigrationService migrations) {
    this.inventory = inventory;
    this.migrations = migrations;
  }

  void routes(Router r) {
    r.get("/v2.1/servers/:id/migrations").handler(this::serverMigrations);
    r.get("/v2.1/servers/:id/migrations/:mid").handler(this::serverMigration);
    r.delete("/v2.1/servers/:id/migrations/:mid").handler(this::abortMigration);
    r.post("/v2.1/servers/:id/migrations/:mid/action").handler(this::migrationAction);
    r.get("/v2.1/os-migrations").handler(this::osMigrations);
  }

  private static JsonObject view(RoutingContext ctx, MigrationRow m, boolean serverScoped) {
    return MigrationViews.api(m, minor(ctx), serverScoped, path -> links(ctx, path));
  }

  private void serverMigrations(RoutingContext ctx) {
    requireVersion(ctx, 23);
    String id = uuidParam(ctx, "id", "Instance");
    requireAdmin(ctx, "os_compute_api:servers:migrations:index");
    existing(id)
        .compose(v -> migrations.list(MigrationQuery.ofInstance(id, true)))
        .onSuccess(
            list -> {
              JsonArray arr = new JsonArray();
              for (MigrationRow m : list.orElseThrow()) arr.add(view(ctx, m, true));
              ctx.json(new JsonObject().put("migrations", arr));
            })
        .onFailure(ctx::fail);
  }

  private Future<Void> existing(String serverId) {
    return inventory
        .instance(serverId)
        .map(
            opt -> {
              if (opt.isEmpty()) {
                throw new ApiException(404, "Instance " + serverId + " could not be found.");
              }
              return null;
            });
  }

  private Future<MigrationRow> inProgress(String serverId, long mid) {
    return existing(serverId)
        .compose(v -> migrations.find(mid))
        .map(
            opt ->
                opt.filter(m -> m.instanceUuid.equals(serverId) && m.status.isInProgress())
                    .orElseThrow(
                        () ->
                            new ApiException(
                                404,
                                "In-progress live migration "
                                    + mid
                                    + " is not found for server "
                                    + serverId
                                    + ".")));
  }

  private void serverMigration(RoutingContext ctx) {
    requireVersion(ctx, 23);
    String id = uuidParam(ctx, "id", "Instance");
    long mid = migrationIdParam(ctx, "mid");
    requireAdmin(ctx, "os_compute_api:servers:migrations:show");
    inProgress(id, mid)
        .onSuccess(m -> ctx.json(new JsonObject().put("migration", view(ctx, m, true))))
        .onFailure(ctx::fail);
  }

  private void abortMigration(RoutingContext ctx) {
    requireVersion(ctx, 24);
    String id = uuidParam(ctx, "id", "Instance");
    long mid = migrationIdParam(ctx, "mid");
    requireAdmin(ctx, "os_compute_api:servers:migrations:delete");
    // Before 2.65 only a running migration can be aborted.
    migrations
        .abort(id, mid, atLeast(ctx, 65), ctx.get("reqId"))
        .onSuccess(m -> ctx.response().setStatusCode(202).end())
        .onFailure(ctx::fail);
  }

  private void migrationAction(RoutingContext ctx) {
    requireVersion(ctx, 22);
    String id = uuidParam(ctx, "id", "Instance");
    long mid = migrationIdParam(ctx, "mid");
    requireAdmin(ctx, "os_compute_api:servers:migrations:force_complete");
    JsonObject body = jsonBody(ctx);
    if (body.size() != 1 || !body.containsKey("force_complete")) {
      String action = body.fieldNames().isEmpty() ? "(none)" : body.fieldNames().iterator().next();
      throw new ApiException(400, "There is no such action: " + clip(action));
    }
    if (body.getValue("force_complete") != null) {
      throw invalid("force_complete", body.getValue("force_complete"), "It is not of type 'null'");
    }
    migrations
        .forceComplete(id, mid, ctx.get("reqId"))
        .onSuccess(m -> ctx.response().setStatusCode(202).end())
        .onFailure(ctx::fail);
  }

  private void osMigrations(RoutingContext ctx) {
    requireAdmin(ctx, "os_compute_api:os-migrations:index");
    var q = ctx.queryParams();
    String type = q.get("migration_type");
    boolean paging = atLeast(ctx, 59);
    int limit = paging ? intParam(q.get("limit"), "limit", 0) : 0;
    String marker = paging ? q.get("marker") : null;
    Long since = paging ? timeParam(q.get("changes-since"), "changes-since") : null;
    if (type != null && !type.equals("live-migration")) {
      // Only live migrations exist here.
      ctx.json(new JsonObject().put("migrations", new JsonArray()));
      return;
    }
    MigrationQuery query =
        new MigrationQuery(
            q.get("instance_uuid"),
            q.get("host"),
            q.get("source_compute"),
            q.get("status"),
            false,
            since,
            marker,
            // Nova: limit=0 is an empty page, no limit is everything.
            paging && q.get("limit") != null && limit == 0 ? -1 : limit);
    if (query.limit() < 0) {
      ctx.json(new JsonObject().put("migrations", new JsonArray()));
      return;
    }
    migrations
        .list(query)
        .onSuccess(
            page -> {
              if (page.isEmpty()) {
                error(ctx, 400, "Marker " + clip(marker) + " could not be found.");
                return;
              }
              JsonArray arr = new JsonArray();
              for (MigrationRow m : page.get()) arr.add(view(ctx, m, false));
              ctx.json(new JsonObject().put("migrations", arr));
            })
        .onFailure(ctx::fail);
  }

  private static Long timeParam(String raw, String name) {
    if (raw == null) return null;
    try {
      return OffsetDateTime.parse(raw.trim()).toInstant().toEpochMilli();
    } catch (DateTimeParseException e) {
      try {
        // Nova also takes a time without an offset, as UTC.
        return LocalDateTime.parse(raw.trim()).toInstant(ZoneOffset.UTC).toEpochMilli();
      } catch (DateTimeParseException e2) {
        throw invalidQuery(name, raw, "is not a 'date-time'");
      }
    }
  }
}
