package io.livemigrate.conductor.api;

import static io.livemigrate.conductor.api.ApiSupport.UUID_RE;
import static io.livemigrate.conductor.api.ApiSupport.atLeast;
import static io.livemigrate.conductor.api.ApiSupport.clip;
import static io.livemigrate.conductor.api.ApiSupport.invalid;
import static io.livemigrate.conductor.api.ApiSupport.invalidQuery;
import static io.livemigrate.conductor.api.ApiSupport.jsonBody;
import static io.livemigrate.conductor.api.ApiSupport.links;
import static io.livemigrate.conductor.api.ApiSupport.novaBinary;
import static io.livemigrate.conductor.api.ApiSupport.nowTime;
import static io.livemigrate.conductor.api.ApiSupport.onlyKeys;
import static io.livemigrate.conductor.api.ApiSupport.ourBinary;
import static io.livemigrate.conductor.api.ApiSupport.requireAdmin;
import static io.livemigrate.conductor.api.ApiSupport.requireBelow;
import static io.livemigrate.conductor.api.ApiSupport.truthy;
import static io.livemigrate.conductor.api.ServersApi.COMPUTE_BINARY;

import io.livemigrate.conductor.impl.ApiException;
import io.livemigrate.conductor.impl.Conductor;
import io.livemigrate.conductor.impl.ServiceAdmin;
import io.livemigrate.conductor.store.HostRow;
import io.livemigrate.conductor.store.InstanceRow;
import io.livemigrate.conductor.store.ServiceRow;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Services (list, enable/disable/forced-down in the pre-2.53 and 2.53+ forms), hypervisors, the
 * legacy os-hosts table of the admin guide, flavors and an empty aggregate list. Services, hosts
 * and hypervisors are admin-only (Nova's default policy); flavors are open to every project.
 */
final class InfraApi {
  private final Conductor conductor;
  private final ServiceAdmin admin;
  private final long serviceDownTimeMs;

  InfraApi(Conductor conductor, ServiceAdmin admin, long serviceDownTimeMs) {
    this.conductor = conductor;
    this.admin = admin;
    this.serviceDownTimeMs = serviceDownTimeMs;
  }

  void routes(Router r) {
    r.get("/v2.1/os-services").handler(this::services);
    r.put("/v2.1/os-services/:id").handler(this::updateService);
    r.get("/v2.1/os-hypervisors").handler(ctx -> hypervisors(ctx, false));
    r.get("/v2.1/os-hypervisors/detail").handler(ctx -> hypervisors(ctx, true));
    r.get("/v2.1/os-hypervisors/statistics").handler(this::statistics);
    r.get("/v2.1/os-hypervisors/:id").handler(this::hypervisor);
    r.get("/v2.1/os-hypervisors/:id/uptime").handler(this::uptime);
    r.get("/v2.1/os-hypervisors/:name/search").handler(ctx -> search(ctx, false));
    r.get("/v2.1/os-hypervisors/:name/servers").handler(ctx -> search(ctx, true));
    r.get("/v2.1/os-hosts").handler(this::hosts);
    r.get("/v2.1/os-hosts/:name").handler(this::host);
    r.put("/v2.1/os-hosts/:name").handler(this::updateHost);
    r.get("/v2.1/os-aggregates").handler(this::aggregates);
    r.get("/v2.1/flavors").handler(ctx -> flavors(ctx, false));
    r.get("/v2.1/flavors/detail").handler(ctx -> flavors(ctx, true));
    r.get("/v2.1/flavors/:id").handler(this::flavor);
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
    admin
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
    admin
        .services()
        .compose(
            list -> {
              ServiceRow s =
                  list.stream()
                      .filter(r -> r.uuid().equalsIgnoreCase(id))
                      .findFirst()
                      .orElseThrow(
                          () -> new ApiException(404, "Service " + id + " could not be found."));
              if (!COMPUTE_BINARY.equals(s.binary())) {
                throw new ApiException(
                    400, "Updating a " + novaBinary(s.binary()) + " service is not supported.");
              }
              return admin.update(
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
    admin
        .update(hostName, ourBinary(binaryName), d, reason, fdv, ctx.get("reqId"))
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

  // ------------------------------------------------------------ hypervisors

  private record Node(ServiceRow service, HostRow host, List<InstanceRow> instances) {}

  private Future<List<Node>> nodes() {
    return conductor.db(
        s -> {
          List<Node> out = new ArrayList<>();
          for (ServiceRow r : s.services()) {
            if (!COMPUTE_BINARY.equals(r.binary())) continue;
            Optional<HostRow> h = s.host(r.host());
            if (h.isEmpty()) continue; // no resources reported yet: not a hypervisor yet
            out.add(new Node(r, h.get(), s.instances(r.host())));
          }
          return out;
        });
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
    long mem = 0;
    long disk = 0;
    int cpu = 0;
    for (InstanceRow i : n.instances()) {
      mem += i.memoryMb();
      disk += i.diskGb();
      cpu += i.vcpus();
    }
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
            .put("running_vms", n.instances().size())
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
    int limit = ServersApi.intParam(q.get("limit"), "limit", Integer.MAX_VALUE);
    nodes()
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
    return nodes()
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
    nodes()
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
    nodes()
        .onSuccess(
            list -> {
              long vcpus = 0, vcpusUsed = 0, mem = 0, memUsed = 0, disk = 0, diskUsed = 0, vms = 0;
              for (Node n : list) {
                vcpus += n.host().vcpus();
                mem += n.host().memoryMb();
                disk += n.host().diskGb();
                for (InstanceRow i : n.instances()) {
                  vcpusUsed += i.vcpus();
                  memUsed += i.memoryMb();
                  diskUsed += i.diskGb();
                  vms++;
                }
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

  // ------------------------------------------------------------ os-hosts (removed at 2.43)

  private void hosts(RoutingContext ctx) {
    requireBelow(ctx, 43);
    requireAdmin(ctx, "os_compute_api:os-hosts:list");
    String zone = ctx.queryParams().get("zone");
    admin
        .services()
        .onSuccess(
            list -> {
              JsonArray arr = new JsonArray();
              for (ServiceRow s : list) {
                if (zone != null && !zone.equals(s.zone())) continue;
                String service = COMPUTE_BINARY.equals(s.binary()) ? "compute" : s.binary();
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
    conductor
        .db(s -> s.host(name).map(h -> new Node(null, h, uncheckedInstances(s, name))))
        .onSuccess(
            opt -> {
              if (opt.isEmpty()) {
                ApiSupport.error(ctx, 404, "Compute host " + clip(name) + " could not be found.");
                return;
              }
              HostRow h = opt.get().host();
              long cpu = 0, mem = 0, disk = 0;
              Map<String, long[]> perProject = new TreeMap<>();
              for (InstanceRow i : opt.get().instances()) {
                cpu += i.vcpus();
                mem += i.memoryMb();
                disk += i.diskGb();
                long[] p = perProject.computeIfAbsent(i.projectId(), k -> new long[3]);
                p[0] += i.vcpus();
                p[1] += i.memoryMb();
                p[2] += i.diskGb();
              }
              JsonArray rows =
                  new JsonArray()
                      .add(resource(name, "(total)", h.vcpus(), h.memoryMb(), h.diskGb()))
                      // Nova's used_now is what the node reports used, used_max the sum of the
                      // instances' flavors; here the instances are the only consumers, so equal.
                      .add(resource(name, "(used_now)", cpu, mem, disk))
                      .add(resource(name, "(used_max)", cpu, mem, disk));
              perProject.forEach((p, v) -> rows.add(resource(name, p, v[0], v[1], v[2])));
              ctx.json(new JsonObject().put("host", rows));
            })
        .onFailure(ctx::fail);
  }

  private static List<InstanceRow> uncheckedInstances(
      io.livemigrate.conductor.store.Store s, String host) {
    try {
      return s.instances(host);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
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
    admin
        .update(name, COMPUTE_BINARY, disable, null, null, ctx.get("reqId"))
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

  // ------------------------------------------------------------ flavors

  private record Flavor(String name, int vcpus, long ram, long disk) {}

  /** The flavors the instances carry, by name (the flavor id is its name). */
  private Future<Map<String, Flavor>> flavorMap() {
    return conductor
        .db(s -> s.instances(null))
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
