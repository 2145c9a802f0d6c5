package io.livemigrate.conductor.api;

import static io.livemigrate.conductor.api.ApiSupport.atLeast;
import static io.livemigrate.conductor.api.ApiSupport.clip;
import static io.livemigrate.conductor.api.ApiSupport.invalid;
import static io.livemigrate.conductor.api.ApiSupport.jsonBody;
import static io.livemigrate.conductor.api.ApiSupport.links;
import static io.livemigrate.conductor.api.ApiSupport.onlyKeys;
import static io.livemigrate.conductor.api.ApiSupport.requireAdmin;
import static io.livemigrate.conductor.api.ApiSupport.requireBelow;

import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.ServiceRow;
import io.livemigrate.conductor.Usage;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The legacy {@code /os-hosts} of the admin guide (removed at 2.43: the per-project resource table,
 * enable/disable) and {@code /flavors}, from the flavors the instances carry. os-hosts is
 * admin-only; flavors are open to every project.
 */
final class HostsApi {
  private final Inventory inventory;

  HostsApi(Inventory inventory) {
    this.inventory = inventory;
  }

  void routes(Router r) {
    r.get("/v2.1/os-hosts").handler(this::hosts);
    r.get("/v2.1/os-hosts/:name").handler(this::host);
    r.put("/v2.1/os-hosts/:name").handler(this::updateHost);
    r.get("/v2.1/flavors").handler(ctx -> flavors(ctx, false));
    r.get("/v2.1/flavors/detail").handler(ctx -> flavors(ctx, true));
    r.get("/v2.1/flavors/:id").handler(this::flavor);
  }

  private void hosts(RoutingContext ctx) {
    requireBelow(ctx, 43);
    requireAdmin(ctx, "os_compute_api:os-hosts:list");
    String zone = ctx.queryParams().get("zone");
    inventory
        .services()
        .onSuccess(
            list -> {
              JsonArray arr = new JsonArray();
              for (ServiceRow s : list) {
                if (zone != null && !zone.equals(s.zone())) continue;
                String service =
                    Inventory.COMPUTE_BINARY.equals(s.binary()) ? "compute" : s.binary();
                arr.add(
                    new JsonObject()
                        .put("host_name", s.host())
                        .put("service", service)
                        .put("zone", s.zone()));
              }
              ctx.json(new JsonObject().put("hosts", arr));
            })
        .onFailure(ctx::fail);
  }

  private static JsonObject resource(String host, String project, long cpu, long mem, long disk) {
    return new JsonObject()
        .put(
            "resource",
            new JsonObject()
                .put("host", host)
                .put("project", project)
                .put("cpu", cpu)
                .put("memory_mb", mem)
                .put("disk_gb", disk));
  }

  /** The admin guide's table: (total), (used_now), (used_max), then one row per project. */
  private void host(RoutingContext ctx) {
    requireBelow(ctx, 43);
    requireAdmin(ctx, "os_compute_api:os-hosts:show");
    String name = ctx.pathParam("name");
    inventory
        .hostUsage(name)
        .onSuccess(
            opt -> {
              if (opt.isEmpty()) {
                ApiSupport.error(ctx, 404, "Compute host " + clip(name) + " could not be found.");
                return;
              }
              HostRow h = opt.get().host();
              Usage u = opt.get().total();
              JsonArray rows =
                  new JsonArray()
                      .add(resource(name, "(total)", h.vcpus(), h.memoryMb(), h.diskGb()))
                      // Nova's used_now is what the node reports used, used_max the sum of the
                      // instances' flavors; here the instances are the only consumers, so equal.
                      .add(resource(name, "(used_now)", u.vcpus(), u.memoryMb(), u.diskGb()))
                      .add(resource(name, "(used_max)", u.vcpus(), u.memoryMb(), u.diskGb()));
              for (Usage p : opt.get().perProject()) {
                rows.add(resource(name, p.projectId(), p.vcpus(), p.memoryMb(), p.diskGb()));
              }
              ctx.json(new JsonObject().put("host", rows));
            })
        .onFailure(ctx::fail);
  }

  /** Legacy {@code PUT /os-hosts/{name}} {@code {"status": "enable"|"disable"}}. */
  private void updateHost(RoutingContext ctx) {
    requireBelow(ctx, 43);
    requireAdmin(ctx, "os_compute_api:os-hosts:update");
    String name = ctx.pathParam("name");
    JsonObject body = jsonBody(ctx);
    onlyKeys(body, "request body", List.of("status", "maintenance_mode"));
    if (body.containsKey("maintenance_mode")) {
      throw new ApiException(501, "Putting a host into maintenance mode is not implemented.");
    }
    Object st = body.getValue("status");
    if (!"enable".equals(st) && !"disable".equals(st)) {
      throw invalid("status", st, "'" + st + "' is not one of ['enable', 'disable']");
    }
    boolean disable = "disable".equals(st);
    inventory
        .updateService(name, Inventory.COMPUTE_BINARY, disable, null, null, ctx.get("reqId"))
        .onSuccess(
            opt -> {
              if (opt.isEmpty()) {
                ApiSupport.error(ctx, 404, "Compute host " + clip(name) + " could not be found.");
                return;
              }
              ctx.json(
                  new JsonObject()
                      .put("host", name)
                      .put("status", disable ? "disabled" : "enabled"));
            })
        .onFailure(ctx::fail);
  }

  private record Flavor(String name, int vcpus, long ram, long disk) {}

  /** The flavors the instances carry, by name (the flavor id is its name). */
  private Future<Map<String, Flavor>> flavorMap() {
    return inventory
        .instances(null)
        .map(
            list -> {
              Map<String, Flavor> m = new TreeMap<>();
              for (InstanceRow i : list) {
                String n = i.flavor() == null ? "custom" : i.flavor();
                m.putIfAbsent(n, new Flavor(n, i.vcpus(), i.memoryMb(), i.diskGb()));
              }
              return m;
            });
  }

  private JsonObject flavorView(RoutingContext ctx, Flavor f, boolean detail) {
    JsonObject o =
        new JsonObject()
            .put("id", f.name())
            .put("name", f.name())
            .put("links", links(ctx, "flavors/" + f.name()));
    if (atLeast(ctx, 55)) o.put("description", null);
    if (!detail) return o;
    o.put("vcpus", f.vcpus())
        .put("ram", f.ram())
        .put("disk", f.disk())
        .put("OS-FLV-EXT-DATA:ephemeral", 0)
        .put("OS-FLV-DISABLED:disabled", false)
        .put("swap", "")
        .put("rxtx_factor", 1.0)
        .put("os-flavor-access:is_public", true);
    if (atLeast(ctx, 61)) o.put("extra_specs", new JsonObject());
    return o;
  }

  private void flavors(RoutingContext ctx, boolean detail) {
    flavorMap()
        .onSuccess(
            m -> {
              JsonArray arr = new JsonArray();
              for (Flavor f : m.values()) arr.add(flavorView(ctx, f, detail));
              ctx.json(new JsonObject().put("flavors", arr));
            })
        .onFailure(ctx::fail);
  }

  private void flavor(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    flavorMap()
        .onSuccess(
            m -> {
              Flavor f = m.get(id);
              if (f == null) {
                ApiSupport.error(ctx, 404, "Flavor " + clip(id) + " could not be found.");
                return;
              }
              ctx.json(new JsonObject().put("flavor", flavorView(ctx, f, true)));
            })
        .onFailure(ctx::fail);
  }
}
