package io.livemigrate.conductor.api;

import static io.livemigrate.conductor.api.ApiSupport.atLeast;
import static io.livemigrate.conductor.api.ApiSupport.clip;
import static io.livemigrate.conductor.api.ApiSupport.invalidQuery;
import static io.livemigrate.conductor.api.ApiSupport.requireAdmin;
import static io.livemigrate.conductor.api.ApiSupport.requireBelow;
import static io.livemigrate.conductor.api.ApiSupport.truthy;

import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.Inventory.Node;
import io.livemigrate.conductor.ServiceRow;
import io.livemigrate.conductor.Usage;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;

/**
 * {@code /os-hypervisors} (list, detail, show, uptime, statistics, the pre-2.53 search) and an
 * empty {@code /os-aggregates}. Usage comes from one aggregate query in the store. Admin-only.
 */
final class HypervisorsApi {
  private final Inventory inventory;
  private final long serviceDownTimeMs;

  HypervisorsApi(Inventory inventory, long serviceDownTimeMs) {
    this.inventory = inventory;
    this.serviceDownTimeMs = serviceDownTimeMs;
  }

  void routes(Router r) {
    r.get("/v2.1/os-hypervisors").handler(ctx -> hypervisors(ctx, false));
    r.get("/v2.1/os-hypervisors/detail").handler(ctx -> hypervisors(ctx, true));
    r.get("/v2.1/os-hypervisors/statistics").handler(this::statistics);
    r.get("/v2.1/os-hypervisors/:id").handler(this::hypervisor);
    r.get("/v2.1/os-hypervisors/:id/uptime").handler(this::uptime);
    r.get("/v2.1/os-hypervisors/:name/search").handler(ctx -> search(ctx, false));
    r.get("/v2.1/os-hypervisors/:name/servers").handler(ctx -> search(ctx, true));
    r.get("/v2.1/os-aggregates").handler(this::aggregates);
  }

  private boolean up(ServiceRow s) {
    return !s.forcedDown() && System.currentTimeMillis() - s.lastSeenMs() <= serviceDownTimeMs;
  }

  /** A stable UUID per hypervisor (Nova's compute node uuid), from its host name. */
  static String hypervisorUuid(String host) {
    return UUID.nameUUIDFromBytes(("hypervisor:" + host).getBytes(StandardCharsets.UTF_8))
        .toString();
  }

  private Object hypervisorId(RoutingContext ctx, Node n) {
    return atLeast(ctx, 53) ? hypervisorUuid(n.host().host()) : n.service().id();
  }

  private JsonObject brief(RoutingContext ctx, Node n) {
    return new JsonObject()
        .put("id", hypervisorId(ctx, n))
        .put("hypervisor_hostname", n.host().host())
        .put("state", up(n.service()) ? "up" : "down")
        .put("status", n.service().disabled() ? "disabled" : "enabled");
  }

  private JsonObject detail(RoutingContext ctx, Node n) {
    HostRow h = n.host();
    long mem = n.usage().memoryMb();
    long disk = n.usage().diskGb();
    long cpu = n.usage().vcpus();
    JsonObject cpuInfo =
        new JsonObject()
            .put("arch", "x86_64")
            .put("model", "simulated")
            .put("vendor", "livemigrate")
            .put(
                "topology",
                new JsonObject().put("sockets", 1).put("cores", h.vcpus()).put("threads", 1))
            .put("features", new JsonArray());
    JsonObject o =
        brief(ctx, n)
            .put("hypervisor_type", h.hypervisorType())
            .put("hypervisor_version", h.hypervisorVersion())
            .put("host_ip", "127.0.0.1")
            .put("vcpus", h.vcpus())
            .put("vcpus_used", cpu)
            .put("memory_mb", h.memoryMb())
            .put("memory_mb_used", mem)
            .put("free_ram_mb", h.memoryMb() - mem)
            .put("local_gb", h.diskGb())
            .put("local_gb_used", disk)
            .put("free_disk_gb", h.diskGb() - disk)
            .put("disk_available_least", h.diskGb() - disk)
            .put("current_workload", 0)
            .put("running_vms", n.usage().instances())
            // A JSON string below 2.28 (OSC json.loads it), an object from 2.28.
            .put("cpu_info", atLeast(ctx, 28) ? cpuInfo : cpuInfo.encode())
            .put(
                "service",
                new JsonObject()
                    .put("host", n.service().host())
                    .put("id", atLeast(ctx, 53) ? n.service().uuid() : n.service().id())
                    .put("disabled_reason", n.service().disabledReason()));
    return o;
  }

  private JsonArray serversOf(Node n) {
    JsonArray a = new JsonArray();
    for (InstanceRow i : n.instances()) {
      a.add(new JsonObject().put("name", i.name()).put("uuid", i.uuid()));
    }
    return a;
  }

  private void hypervisors(RoutingContext ctx, boolean detail) {
    requireAdmin(ctx, "os_compute_api:os-hypervisors:list");
    var q = ctx.queryParams();
    String pattern = atLeast(ctx, 53) ? q.get("hypervisor_hostname_pattern") : null;
    boolean withServers = atLeast(ctx, 53) && truthy(q.get("with_servers"));
    if (q.contains("with_servers") && atLeast(ctx, 53)) {
      String w = q.get("with_servers").trim().toLowerCase();
      if (!List.of("", "1", "0", "true", "false", "yes", "no", "on", "off").contains(w)) {
        throw invalidQuery("with_servers", w, "is not a 'boolean'");
      }
    }
    int limit = ApiSupport.intParam(q.get("limit"), "limit", Integer.MAX_VALUE);
    inventory
        .hypervisors()
        .onSuccess(
            list -> {
              JsonArray arr = new JsonArray();
              for (Node n : list) {
                if (pattern != null && !n.host().host().contains(pattern)) continue;
                if (arr.size() >= limit) break;
                JsonObject o = detail ? detail(ctx, n) : brief(ctx, n);
                if (withServers) o.put("servers", serversOf(n));
                arr.add(o);
              }
              if (pattern != null && arr.isEmpty()) {
                ApiSupport.error(
                    ctx, 404, "No hypervisor matching '" + clip(pattern) + "' could be found.");
                return;
              }
              ctx.json(new JsonObject().put("hypervisors", arr));
            })
        .onFailure(ctx::fail);
  }

  /**
   * One hypervisor by id (an integer below 2.53, a UUID from 2.53). A host name gets 404, not
   * Nova's 400, because novaclient only falls back to a name search on 404 (osc-contract §6.7).
   */
  private Future<Node> byId(RoutingContext ctx, String id) {
    return inventory
        .hypervisors()
        .map(
            list -> {
              for (Node n : list) {
                if (String.valueOf(hypervisorId(ctx, n)).equalsIgnoreCase(id)) return n;
              }
              throw new ApiException(
                  404, "Hypervisor with ID " + clip(id) + " could not be found.");
            });
  }

  private void hypervisor(RoutingContext ctx) {
    requireAdmin(ctx, "os_compute_api:os-hypervisors:show");
    String id = ctx.pathParam("id");
    boolean withServers = atLeast(ctx, 53) && truthy(ctx.queryParams().get("with_servers"));
    byId(ctx, id)
        .onSuccess(
            n -> {
              JsonObject o = detail(ctx, n);
              if (withServers) o.put("servers", serversOf(n));
              ctx.json(new JsonObject().put("hypervisor", o));
            })
        .onFailure(ctx::fail);
  }

  private void uptime(RoutingContext ctx) {
    requireAdmin(ctx, "os_compute_api:os-hypervisors:uptime");
    byId(ctx, ctx.pathParam("id"))
        .onSuccess(
            n ->
                ctx.json(
                    new JsonObject()
                        .put(
                            "hypervisor",
                            brief(ctx, n)
                                .put(
                                    "uptime",
                                    " 00:00:00 up 0 days,  0:00,  0 users,  load average: 0.00,"
                                        + " 0.00, 0.00"))))
        .onFailure(ctx::fail);
  }

  private void search(RoutingContext ctx, boolean withServers) {
    requireBelow(ctx, 53);
    requireAdmin(ctx, "os_compute_api:os-hypervisors:search");
    String name = ctx.pathParam("name");
    inventory
        .hypervisors()
        .onSuccess(
            list -> {
              JsonArray arr = new JsonArray();
              for (Node n : list) {
                if (!n.host().host().contains(name)) continue;
                JsonObject o = brief(ctx, n);
                if (withServers) o.put("servers", serversOf(n));
                arr.add(o);
              }
              if (arr.isEmpty()) {
                ApiSupport.error(
                    ctx, 404, "No hypervisor matching '" + clip(name) + "' could be found.");
                return;
              }
              ctx.json(new JsonObject().put("hypervisors", arr));
            })
        .onFailure(ctx::fail);
  }

  private void statistics(RoutingContext ctx) {
    requireAdmin(ctx, "os_compute_api:os-hypervisors:statistics");
    inventory
        .hypervisors()
        .onSuccess(
            list -> {
              long vcpus = 0, vcpusUsed = 0, mem = 0, memUsed = 0, disk = 0, diskUsed = 0, vms = 0;
              for (Node n : list) {
                vcpus += n.host().vcpus();
                mem += n.host().memoryMb();
                disk += n.host().diskGb();
                Usage u = n.usage();
                vcpusUsed += u.vcpus();
                memUsed += u.memoryMb();
                diskUsed += u.diskGb();
                vms += u.instances();
              }
              ctx.json(
                  new JsonObject()
                      .put(
                          "hypervisor_statistics",
                          new JsonObject()
                              .put("count", list.size())
                              .put("vcpus", vcpus)
                              .put("vcpus_used", vcpusUsed)
                              .put("memory_mb", mem)
                              .put("memory_mb_used", memUsed)
                              .put("free_ram_mb", mem - memUsed)
                              .put("local_gb", disk)
                              .put("local_gb_used", diskUsed)
                              .put("free_disk_gb", disk - diskUsed)
                              .put("disk_available_least", disk - diskUsed)
                              .put("current_workload", 0)
                              .put("running_vms", vms)));
            })
        .onFailure(ctx::fail);
  }

  private void aggregates(RoutingContext ctx) {
    requireAdmin(ctx, "os_compute_api:os-aggregates:index");
    ctx.json(new JsonObject().put("aggregates", new JsonArray()));
  }
}
