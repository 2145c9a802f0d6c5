package io.livemigrate.conductor.api;

import static io.livemigrate.conductor.api.ApiSupport.UUID_RE;
import static io.livemigrate.conductor.api.ApiSupport.atLeast;
import static io.livemigrate.conductor.api.ApiSupport.clip;
import static io.livemigrate.conductor.api.ApiSupport.invalid;
import static io.livemigrate.conductor.api.ApiSupport.jsonBody;
import static io.livemigrate.conductor.api.ApiSupport.novaBinary;
import static io.livemigrate.conductor.api.ApiSupport.nowTime;
import static io.livemigrate.conductor.api.ApiSupport.onlyKeys;
import static io.livemigrate.conductor.api.ApiSupport.ourBinary;
import static io.livemigrate.conductor.api.ApiSupport.requireAdmin;

import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.ServiceRow;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.List;

/**
 * {@code /os-services}: list, and enable / disable / forced-down in the pre-2.53 (action) and 2.53+
 * (uuid) forms. Admin-only, as in Nova's default policy.
 */
final class ServicesApi {
  private final Inventory inventory;
  private final long serviceDownTimeMs;

  ServicesApi(Inventory inventory, long serviceDownTimeMs) {
    this.inventory = inventory;
    this.serviceDownTimeMs = serviceDownTimeMs;
  }

  void routes(Router r) {
    r.get("/v2.1/os-services").handler(this::services);
    r.put("/v2.1/os-services/:id").handler(this::updateService);
  }

  private boolean up(ServiceRow s) {
    return !s.forcedDown() && System.currentTimeMillis() - s.lastSeenMs() <= serviceDownTimeMs;
  }

  // ------------------------------------------------------------ services

  private JsonObject serviceView(RoutingContext ctx, ServiceRow s) {
    JsonObject o =
        new JsonObject()
            .put("id", atLeast(ctx, 53) ? s.uuid() : s.id())
            .put("binary", novaBinary(s.binary()))
            .put("host", s.host())
            .put("zone", s.zone())
            .put("status", s.disabled() ? "disabled" : "enabled")
            .put("state", up(s) ? "up" : "down")
            .put("disabled_reason", s.disabledReason())
            .put("updated_at", nowTime(s.lastSeenMs()));
    if (atLeast(ctx, 11)) o.put("forced_down", s.forcedDown());
    return o;
  }

  private void services(RoutingContext ctx) {
    requireAdmin(ctx, "os_compute_api:os-services:list");
    String host = ctx.queryParams().get("host");
    String binary = ctx.queryParams().get("binary");
    inventory
        .services()
        .onSuccess(
            list -> {
              JsonArray arr = new JsonArray();
              for (ServiceRow s : list) {
                if (host != null && !host.equals(s.host())) continue;
                if (binary != null && !binary.equals(novaBinary(s.binary()))) continue;
                arr.add(serviceView(ctx, s));
              }
              ctx.json(new JsonObject().put("services", arr));
            })
        .onFailure(ctx::fail);
  }

  private void updateService(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    requireAdmin(ctx, "os_compute_api:os-services:update");
    JsonObject body = jsonBody(ctx);
    if (atLeast(ctx, 53)) {
      updateByUuid(ctx, id, body);
    } else {
      updateByAction(ctx, id, body);
    }
  }

  /** 2.53+: {@code PUT /os-services/{uuid}} with status, disabled_reason and forced_down. */
  private void updateByUuid(RoutingContext ctx, String id, JsonObject body) {
    if (!UUID_RE.matcher(id).matches()) {
      // Nova says 400 "Invalid uuid"; 404 is what nova service-disable <host> is documented to get.
      throw new ApiException(404, "Service " + clip(id) + " could not be found.");
    }
    onlyKeys(body, "request body", List.of("status", "disabled_reason", "forced_down"));
    if (body.isEmpty()) {
      throw new ApiException(
          400, "At least one of status or forced_down must be specified in the request body.");
    }
    Object st = body.getValue("status");
    if (body.containsKey("status") && !"enabled".equals(st) && !"disabled".equals(st)) {
      throw invalid("status", st, "'" + st + "' is not one of ['enabled', 'disabled']");
    }
    Object reason = body.getValue("disabled_reason");
    if (body.containsKey("disabled_reason")) {
      if (!(reason instanceof String r) || r.isEmpty() || r.length() > 255) {
        throw invalid("disabled_reason", reason, "It must be a string of 1 to 255 characters");
      }
      if (!"disabled".equals(st)) {
        throw new ApiException(
            400, "Specifying 'disabled_reason' with status 'enabled' is invalid.");
      }
    }
    Object fd = body.getValue("forced_down");
    if (body.containsKey("forced_down") && !(fd instanceof Boolean)) {
      throw invalid("forced_down", fd, fd + " is not of type 'boolean'");
    }
    Boolean disabled = st == null ? null : "disabled".equals(st);
    inventory
        .services()
        .compose(
            list -> {
              ServiceRow s =
                  list.stream()
                      .filter(r -> r.uuid().equalsIgnoreCase(id))
                      .findFirst()
                      .orElseThrow(
                          () -> new ApiException(404, "Service " + id + " could not be found."));
              if (!Inventory.COMPUTE_BINARY.equals(s.binary())) {
                throw new ApiException(
                    400, "Updating a " + novaBinary(s.binary()) + " service is not supported.");
              }
              return inventory.updateService(
                  s.host(), s.binary(), disabled, (String) reason, (Boolean) fd, ctx.get("reqId"));
            })
        .onSuccess(
            opt -> ctx.json(new JsonObject().put("service", serviceView(ctx, opt.orElseThrow()))))
        .onFailure(ctx::fail);
  }

  /** Before 2.53: {@code PUT /os-services/enable|disable|disable-log-reason|force-down}. */
  private void updateByAction(RoutingContext ctx, String action, JsonObject body) {
    List<String> actions =
        atLeast(ctx, 11)
            ? List.of("enable", "disable", "disable-log-reason", "force-down")
            : List.of("enable", "disable", "disable-log-reason");
    if (!actions.contains(action)) {
      throw new ApiException(404, "Unknown action");
    }
    List<String> keys =
        switch (action) {
          case "disable-log-reason" -> List.of("host", "binary", "disabled_reason");
          case "force-down" -> List.of("host", "binary", "forced_down");
          default -> List.of("host", "binary");
        };
    onlyKeys(body, "request body", keys);
    for (String k : keys) {
      if (!body.containsKey(k))
        throw invalid("request body", body.encode(), "'" + k + "' is a required property");
    }
    Object host = body.getValue("host");
    Object binary = body.getValue("binary");
    if (!(host instanceof String h) || h.isEmpty() || h.length() > 255) {
      throw invalid("host", host, host + " is not of type 'string'");
    }
    if (!(binary instanceof String b) || b.isEmpty() || b.length() > 255) {
      throw invalid("binary", binary, binary + " is not of type 'string'");
    }
    Boolean disabled = null;
    String reason = null;
    Boolean forced = null;
    switch (action) {
      case "enable" -> disabled = false;
      case "disable" -> disabled = true;
      case "disable-log-reason" -> {
        Object r = body.getValue("disabled_reason");
        if (!(r instanceof String rs) || rs.isEmpty() || rs.length() > 255) {
          throw invalid("disabled_reason", r, "It must be a string of 1 to 255 characters");
        }
        disabled = true;
        reason = rs;
      }
      default -> {
        Object f = body.getValue("forced_down");
        if (!(f instanceof Boolean fb)) {
          throw invalid("forced_down", f, f + " is not of type 'boolean'");
        }
        forced = fb;
      }
    }
    String hostName = (String) host;
    String binaryName = (String) binary;
    Boolean d = disabled;
    Boolean fdv = forced;
    inventory
        .updateService(hostName, ourBinary(binaryName), d, reason, fdv, ctx.get("reqId"))
        .onSuccess(
            opt -> {
              if (opt.isEmpty()) {
                ApiSupport.error(
                    ctx,
                    404,
                    "Service " + clip(binaryName) + " on host " + clip(hostName) + " not found.");
                return;
              }
              ServiceRow s = opt.get();
              JsonObject out = new JsonObject().put("host", s.host()).put("binary", binaryName);
              if (fdv != null) out.put("forced_down", s.forcedDown());
              else out.put("status", s.disabled() ? "disabled" : "enabled");
              if (s.disabled() && s.disabledReason() != null && fdv == null)
                out.put("disabled_reason", s.disabledReason());
              ctx.json(new JsonObject().put("service", out));
            })
        .onFailure(ctx::fail);
  }
}
