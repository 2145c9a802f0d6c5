package io.livemigrate.conductor.api;

import static io.livemigrate.conductor.api.ApiSupport.SERVER_TIME;
import static io.livemigrate.conductor.api.ApiSupport.atLeast;
import static io.livemigrate.conductor.api.ApiSupport.clip;
import static io.livemigrate.conductor.api.ApiSupport.identity;
import static io.livemigrate.conductor.api.ApiSupport.intParam;
import static io.livemigrate.conductor.api.ApiSupport.invalid;
import static io.livemigrate.conductor.api.ApiSupport.isAdmin;
import static io.livemigrate.conductor.api.ApiSupport.jsonBody;
import static io.livemigrate.conductor.api.ApiSupport.links;
import static io.livemigrate.conductor.api.ApiSupport.nowTime;
import static io.livemigrate.conductor.api.ApiSupport.onlyKeys;
import static io.livemigrate.conductor.api.ApiSupport.requireAdmin;
import static io.livemigrate.conductor.api.ApiSupport.uuidParam;

import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.Inventory;
import io.livemigrate.conductor.MigrationService;
import io.livemigrate.conductor.MigrationService.LiveMigrate;
import io.livemigrate.conductor.ServiceRow;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.List;

/**
 * Servers (list, detail, show) and the live-migrate action. Members see their project's servers
 * without host attributes; the live-migrate action is admin-only, as in Nova's default policy.
 */
final class ServersApi {
  private final Inventory inventory;
  private final MigrationService migrations;
  private final long serviceDownTimeMs;

  ServersApi(Inventory inventory, MigrationService migrations, long serviceDownTimeMs) {
    this.inventory = inventory;
    this.migrations = migrations;
    this.serviceDownTimeMs = serviceDownTimeMs;
  }

  void routes(Router r) {
    r.get("/v2.1/servers").handler(ctx -> servers(ctx, false));
    r.get("/v2.1/servers/detail").handler(ctx -> servers(ctx, true));
    r.get("/v2.1/servers/:id").handler(this::server);
    r.post("/v2.1/servers/:id/action").handler(this::serverAction);
  }

  // ------------------------------------------------------------ servers

  private void servers(RoutingContext ctx, boolean detail) {
    var q = ctx.queryParams();
    boolean admin = isAdmin(ctx);
    String project = identity(ctx).projectId();
    // Nova's regular expression, matched within a time budget (a 400, not a stalled event loop).
    NamePattern nameFilter = NamePattern.of(q.get("name"));
    String host = admin ? q.get("host") : null;
    String status = q.get("status");
    int limit = intParam(q.get("limit"), "limit", Integer.MAX_VALUE);
    inventory
        .servers()
        .onSuccess(
            snap -> {
              try {
                ctx.json(
                    new JsonObject()
                        .put(
                            "servers",
                            list(
                                ctx,
                                snap,
                                admin,
                                project,
                                nameFilter,
                                host,
                                status,
                                limit,
                                detail)));
              } catch (ApiException e) {
                ctx.fail(e);
              }
            })
        .onFailure(ctx::fail);
  }

  private JsonArray list(
      RoutingContext ctx,
      Inventory.Servers snap,
      boolean admin,
      String project,
      NamePattern nameFilter,
      String host,
      String status,
      int limit,
      boolean detail) {
    JsonArray arr = new JsonArray();
    for (InstanceRow i : snap.instances()) {
      // Admins see every project, as the admin guide's "openstack server list" does.
      if (!admin && !project.equals(i.projectId())) continue;
      if (nameFilter != null && !nameFilter.find(i.name())) continue;
      if (host != null && !host.equals(i.host())) continue;
      if (status != null && !status.equalsIgnoreCase(i.status())) continue;
      if (arr.size() >= limit) break;
      arr.add(
          detail
              ? serverView(
                  ctx,
                  i,
                  snap.computeServices().get(i.host()),
                  snap.progress().getOrDefault(i.uuid(), 0))
              : brief(ctx, i));
    }
    return arr;
  }

  /** The instance, visible to this caller, or 404. */
  static Future<InstanceRow> visibleInstance(Inventory inventory, RoutingContext ctx, String id) {
    return inventory
        .instance(id)
        .map(
            opt -> {
              InstanceRow i = opt.orElse(null);
              if (i == null || (!isAdmin(ctx) && !identity(ctx).projectId().equals(i.projectId())))
                throw new ApiException(404, "Instance " + id + " could not be found.");
              return i;
            });
  }

  private void server(RoutingContext ctx) {
    String id = uuidParam(ctx, "id", "Instance");
    visibleInstance(inventory, ctx, id)
        .compose(
            i ->
                inventory
                    .servers()
                    .map(
                        snap ->
                            serverView(
                                ctx,
                                i,
                                snap.computeServices().get(i.host()),
                                snap.progress().getOrDefault(i.uuid(), 0))))
        .onSuccess(v -> ctx.json(new JsonObject().put("server", v)))
        .onFailure(ctx::fail);
  }

  private JsonObject brief(RoutingContext ctx, InstanceRow i) {
    return new JsonObject()
        .put("id", i.uuid())
        .put("name", i.name())
        .put("links", links(ctx, "servers/" + i.uuid()));
  }

  private JsonObject serverView(RoutingContext ctx, InstanceRow i, ServiceRow svc, int progress) {
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
            .put("key_name", null)
            .put("accessIPv4", "")
            .put("accessIPv6", "")
            .put("config_drive", "")
            .put("OS-DCF:diskConfig", "MANUAL")
            .put("OS-EXT-STS:vm_state", vmState)
            .put("OS-EXT-STS:task_state", i.taskState())
            .put("OS-EXT-STS:power_state", "PAUSED".equals(i.status()) ? 3 : 1)
            .put("OS-EXT-AZ:availability_zone", svc == null ? "nova" : svc.zone())
            .put("OS-SRV-USG:launched_at", nowTime(i.createdMs()))
            .put("OS-SRV-USG:terminated_at", null)
            .put("os-extended-volumes:volumes_attached", new JsonArray())
            .put("security_groups", new JsonArray())
            .put("flavor", flavor(ctx, i))
            .put("progress", "MIGRATING".equals(i.status()) ? progress : 0);
    if (isAdmin(ctx)) {
      // Nova shows the extended server attributes to admins only.
      s.put("OS-EXT-SRV-ATTR:host", i.host())
          .put("OS-EXT-SRV-ATTR:hypervisor_hostname", i.host())
          .put("OS-EXT-SRV-ATTR:instance_name", i.name());
      if (atLeast(ctx, 3)) {
        s.put("OS-EXT-SRV-ATTR:reservation_id", "r-" + i.uuid().substring(0, 8))
            .put("OS-EXT-SRV-ATTR:launch_index", 0)
            .put("OS-EXT-SRV-ATTR:hostname", i.name())
            .put("OS-EXT-SRV-ATTR:kernel_id", "")
            .put("OS-EXT-SRV-ATTR:ramdisk_id", "")
            .put("OS-EXT-SRV-ATTR:root_device_name", "/dev/vda")
            .put("OS-EXT-SRV-ATTR:user_data", null);
      }
    }
    if (atLeast(ctx, 9)) s.put("locked", false);
    // Nova's policy shows host_status to admins only.
    if (atLeast(ctx, 16) && isAdmin(ctx)) s.put("host_status", hostStatus(svc));
    if (atLeast(ctx, 19)) s.put("description", null);
    if (atLeast(ctx, 26)) s.put("tags", new JsonArray());
    if (atLeast(ctx, 63)) s.put("trusted_image_certificates", null);
    return s;
  }

  private String hostStatus(ServiceRow svc) {
    if (svc == null) return "UNKNOWN";
    if (svc.forcedDown() || System.currentTimeMillis() - svc.lastSeenMs() > serviceDownTimeMs)
      return "DOWN";
    return svc.disabled() ? "MAINTENANCE" : "UP";
  }

  private static JsonObject flavor(RoutingContext ctx, InstanceRow i) {
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
    return new JsonObject().put("id", name).put("links", links(ctx, "flavors/" + name));
  }

  // ------------------------------------------------------------ os-migrateLive

  private void serverAction(RoutingContext ctx) {
    String id = uuidParam(ctx, "id", "Instance");
    JsonObject body = jsonBody(ctx);
    if (body.size() != 1 || !body.containsKey("os-migrateLive")) {
      // Any other action exists in Nova but not here; refuse rather than pretend.
      String action = body.fieldNames().isEmpty() ? "(none)" : body.fieldNames().iterator().next();
      throw new ApiException(400, "There is no such action: " + clip(action));
    }
    Object raw = body.getValue("os-migrateLive");
    if (!(raw instanceof JsonObject args)) {
      throw invalid("os-migrateLive", raw, "It is not of type 'object'");
    }
    // Visibility first: a member asking about another project's server gets 404, then policy.
    visibleInstance(inventory, ctx, id)
        .compose(
            inst -> {
              requireAdmin(ctx, "os_compute_api:os-migrate-server:migrate_live");
              String host = liveMigrateArgs(ctx, args);
              Boolean block = blockMigration(args.getValue("block_migration"), ctx);
              boolean force = Boolean.TRUE.equals(args.getValue("force")) && atLeast(ctx, 30);
              return migrations.liveMigrate(
                  new LiveMigrate(
                      id,
                      host,
                      Boolean.TRUE.equals(block),
                      block == null,
                      force,
                      ctx.get("reqId")));
            })
        .onSuccess(m -> ctx.response().setStatusCode(202).end())
        .onFailure(ctx::fail);
  }

  /** Validates os-migrateLive as Nova's schema for the request's microversion does. */
  private static String liveMigrateArgs(RoutingContext ctx, JsonObject args) {
    List<String> allowed =
        atLeast(ctx, 68)
            ? List.of("host", "block_migration")
            : atLeast(ctx, 30)
                ? List.of("host", "block_migration", "force")
                : atLeast(ctx, 25)
                    ? List.of("host", "block_migration")
                    : List.of("host", "block_migration", "disk_over_commit");
    onlyKeys(args, "os-migrateLive", allowed);
    for (String req :
        atLeast(ctx, 25)
            ? List.of("block_migration", "host")
            : List.of("block_migration", "disk_over_commit", "host")) {
      if (!args.containsKey(req)) {
        throw invalid("os-migrateLive", args.encode(), "'" + req + "' is a required property");
      }
    }
    Object h = args.getValue("host");
    if (h != null && !(h instanceof String)) {
      throw invalid("host", h, h + " is not of type 'string', 'null'");
    }
    Object doc = args.getValue("disk_over_commit");
    if (args.containsKey("disk_over_commit") && !(doc instanceof Boolean)) {
      throw invalid("disk_over_commit", doc, doc + " is not of type 'boolean'");
    }
    Object force = args.getValue("force");
    if (args.containsKey("force") && !(force instanceof Boolean)) {
      throw invalid("force", force, force + " is not of type 'boolean'");
    }
    String host = (String) h;
    if (host != null
        && (host.isEmpty() || host.length() > 255 || !host.matches("[A-Za-z0-9._\\-]+"))) {
      throw invalid("host", clip(host), "'" + clip(host) + "' is not a valid host name");
    }
    return host;
  }

  /** True, false, or null for "auto" (2.25+): decided once the destination is known. */
  private static Boolean blockMigration(Object v, RoutingContext ctx) {
    if (v instanceof Boolean b) return b;
    if ("auto".equals(v) && atLeast(ctx, 25)) return null;
    throw invalid(
        "block_migration",
        v,
        v + " is not of type 'boolean'" + (atLeast(ctx, 25) ? " or 'auto'" : ""));
  }
}
