package io.livemigrate.conductor.api;

import static io.livemigrate.conductor.api.ApiSupport.clip;
import static io.livemigrate.conductor.api.ApiSupport.jsonBody;
import static io.livemigrate.conductor.api.ApiSupport.onlyKeys;
import static io.livemigrate.conductor.api.ApiSupport.requireAdmin;

import io.livemigrate.conductor.Drains;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.List;

/**
 * Our extension beside Nova's API: server-side host drains, admin-only.
 *
 * <pre>
 * POST /v2.1/os-livemigrate-drains  {"drain": {"host": "HostB", "target_host": null,
 *                                    "block_migration": false, "max_retries": 2, "disable": true}}
 * GET  /v2.1/os-livemigrate-drains[/{id}]
 * </pre>
 */
final class DrainApi {
  private final Drains drains;

  DrainApi(Drains drains) {
    this.drains = drains;
  }

  void routes(Router r) {
    r.post("/v2.1/os-livemigrate-drains").handler(this::start);
    r.get("/v2.1/os-livemigrate-drains").handler(this::list);
    r.get("/v2.1/os-livemigrate-drains/:id").handler(this::show);
  }

  private void start(RoutingContext ctx) {
    requireAdmin(ctx, "os_compute_api:os-livemigrate-drains:create");
    JsonObject body = jsonBody(ctx);
    onlyKeys(body, "body", List.of("drain"));
    if (!(body.getValue("drain") instanceof JsonObject d)) {
      throw new ApiException(400, "Invalid input for field/attribute drain. It is not an object.");
    }
    onlyKeys(
        d, "drain", List.of("host", "target_host", "block_migration", "max_retries", "disable"));
    String host = string(d, "host", true);
    String target = string(d, "target_host", false);
    boolean block = bool(d, "block_migration", false);
    boolean disable = bool(d, "disable", true);
    Object retries = d.getValue("max_retries", 2);
    if (!(retries instanceof Integer n) || n < 0 || n > 10) {
      throw new ApiException(
          400, "Invalid input for field/attribute max_retries. Value: " + retries + ".");
    }
    if (host.equals(target)) {
      throw new ApiException(400, "The target host can't be the host being drained.");
    }
    drains
        .start(host, target, block, n, disable, ctx.get("reqId"))
        .onSuccess(
            v ->
                ctx.response()
                    .setStatusCode(202)
                    .putHeader("Content-Type", "application/json")
                    .end(new JsonObject().put("drain", v).encode()))
        .onFailure(ctx::fail);
  }

  private void list(RoutingContext ctx) {
    requireAdmin(ctx, "os_compute_api:os-livemigrate-drains:index");
    drains
        .list()
        .onSuccess(l -> ctx.json(new JsonObject().put("drains", new JsonArray(l))))
        .onFailure(ctx::fail);
  }

  private void show(RoutingContext ctx) {
    requireAdmin(ctx, "os_compute_api:os-livemigrate-drains:show");
    String id = ctx.pathParam("id");
    drains
        .get(id)
        .map(
            d ->
                d.orElseThrow(
                    () -> new ApiException(404, "Drain " + clip(id) + " could not be found.")))
        .onSuccess(d -> ctx.json(new JsonObject().put("drain", d)))
        .onFailure(ctx::fail);
  }

  private static String string(JsonObject o, String key, boolean required) {
    Object v = o.getValue(key);
    if (v == null) {
      if (required) throw new ApiException(400, "'" + key + "' is a required property");
      return null;
    }
    if (!(v instanceof String s) || s.isBlank() || s.length() > 255) {
      throw new ApiException(
          400, "Invalid input for field/attribute " + key + ". Value: " + v + ".");
    }
    return s;
  }

  private static boolean bool(JsonObject o, String key, boolean def) {
    Object v = o.getValue(key);
    if (v == null) return def;
    if (!(v instanceof Boolean b)) {
      throw new ApiException(
          400, "Invalid input for field/attribute " + key + ". Value: " + v + ". Not a boolean.");
    }
    return b;
  }
}
