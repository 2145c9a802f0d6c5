package io.livemigrate.conductor.api;

import static io.livemigrate.conductor.api.ApiSupport.SERVER_TIME;
import static io.livemigrate.conductor.api.ApiSupport.atLeast;
import static io.livemigrate.conductor.api.ApiSupport.clip;
import static io.livemigrate.conductor.api.ApiSupport.error;
import static io.livemigrate.conductor.api.ApiSupport.identity;
import static io.livemigrate.conductor.api.ApiSupport.invalid;
import static io.livemigrate.conductor.api.ApiSupport.invalidQuery;
import static io.livemigrate.conductor.api.ApiSupport.isAdmin;
import static io.livemigrate.conductor.api.ApiSupport.jsonBody;
import static io.livemigrate.conductor.api.ApiSupport.links;
import static io.livemigrate.conductor.api.ApiSupport.migrationIdParam;
import static io.livemigrate.conductor.api.ApiSupport.nowTime;
import static io.livemigrate.conductor.api.ApiSupport.onlyKeys;
import static io.livemigrate.conductor.api.ApiSupport.requireAdmin;
import static io.livemigrate.conductor.api.ApiSupport.requireVersion;
import static io.livemigrate.conductor.api.ApiSupport.uuidParam;

import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.impl.ApiException;
import io.livemigrate.conductor.impl.Conductor;
import io.livemigrate.conductor.store.HostRow;
import io.livemigrate.conductor.store.InstanceRow;
import io.livemigrate.conductor.store.MigrationRow;
import io.livemigrate.conductor.store.ServiceRow;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Servers, the live-migrate action, a server's migrations and {@code /os-migrations}. Members see
 * their project's servers without host attributes; everything about migrations is admin-only, as in
 * Nova's default policy.
 */
final class ServersApi {
  static final String COMPUTE_BINARY = "livemigrate-compute";

  /** Nova's initial allocation ratios, as the scheduler applies them. */
  private static final double CPU_RATIO = 4.0;

  private final Conductor conductor;
  private final long serviceDownTimeMs;

  ServersApi(Conductor conductor, long serviceDownTimeMs) {
    this.conductor = conductor;
    this.serviceDownTimeMs = serviceDownTimeMs;
  }

  void routes(Router r) {
    r.get("/v2.1/servers").handler(ctx -> servers(ctx, false));
    r.get("/v2.1/servers/detail").handler(ctx -> servers(ctx, true));
    r.get("/v2.1/servers/:id").handler(this::server);
    r.post("/v2.1/servers/:id/action").handler(this::serverAction);
    r.get("/v2.1/servers/:id/migrations").handler(this::serverMigrations);
    r.get("/v2.1/servers/:id/migrations/:mid").handler(this::serverMigration);
    r.delete("/v2.1/servers/:id/migrations/:mid").handler(this::abortMigration);
    r.post("/v2.1/servers/:id/migrations/:mid/action").handler(this::migrationAction);
    r.get("/v2.1/os-migrations").handler(this::osMigrations);
  }

  // ------------------------------------------------------------ servers

  private record Snapshot(List<InstanceRow> instances, Map<String, ServiceRow> services) {}

  private Future<Snapshot> snapshot() {
    return conductor.db(
        s -> {
          Map<String, ServiceRow> byHost = new HashMap<>();
          for (ServiceRow r : s.services()) {
            if (COMPUTE_BINARY.equals(r.binary())) byHost.put(r.host(), r);
          }
          return new Snapshot(s.instances(null), byHost);
        });
  }

  private void servers(RoutingContext ctx, boolean detail) {
    var q = ctx.queryParams();
    boolean admin = isAdmin(ctx);
    String project = identity(ctx).projectId();
    Pattern name = null;
    if (q.get("name") != null) {
      try {
        // Nova matches name as a regular expression.
        name = Pattern.compile(q.get("name"));
      } catch (PatternSyntaxException e) {
        name = Pattern.compile(Pattern.quote(q.get("name")));
      }
    }
    String host = admin ? q.get("host") : null;
    String status = q.get("status");
    Pattern nameFilter = name;
    int limit = intParam(q.get("limit"), "limit", Integer.MAX_VALUE);
    snapshot()
        .onSuccess(
            snap -> {
              JsonArray arr = new JsonArray();
              for (InstanceRow i : snap.instances()) {
                // Admins see every project, as the admin guide's "openstack server list" does.
                if (!admin && !project.equals(i.projectId())) continue;
                if (nameFilter != null && !nameFilter.matcher(i.name()).find()) continue;
                if (host != null && !host.equals(i.host())) continue;
                if (status != null && !status.equalsIgnoreCase(i.status())) continue;
                if (arr.size() >= limit) break;
                arr.add(detail ? serverView(ctx, i, snap.services().get(i.host())) : brief(ctx, i));
              }
              ctx.json(new JsonObject().put("servers", arr));
            })
        .onFailure(ctx::fail);
  }

  static int intParam(String raw, String name, int dflt) {
    if (raw == null) return dflt;
    try {
      int v = Integer.parseInt(raw.trim());
      if (v < 0) throw new NumberFormatException();
      return v;
    } catch (NumberFormatException e) {
      throw invalidQuery(name, raw, "does not match '^[0-9]*$'");
    }
  }

  /** The instance, visible to this caller, or 404. */
  private Future<InstanceRow> visibleInstance(RoutingContext ctx, String id) {
    return conductor
        .db(s -> s.instance(id))
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
    visibleInstance(ctx, id)
        .compose(
            i ->
                conductor
                    .db(s -> s.service(i.host(), COMPUTE_BINARY))
                    .map(svc -> serverView(ctx, i, svc.orElse(null))))
        .onSuccess(v -> ctx.json(new JsonObject().put("server", v)))
        .onFailure(ctx::fail);
  }

  private JsonObject brief(RoutingContext ctx, InstanceRow i) {
    return new JsonObject()
        .put("id", i.uuid())
        .put("name", i.name())
        .put("links", links(ctx, "servers/" + i.uuid()));
  }

  private JsonObject serverView(RoutingContext ctx, InstanceRow i, ServiceRow svc) {
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
            .put("progress", "MIGRATING".equals(i.status()) ? conductor.progressOf(i.uuid()) : 0);
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
    visibleInstance(ctx, id)
        .compose(
            inst -> {
              requireAdmin(ctx, "os_compute_api:os-migrate-server:migrate_live");
              String host = liveMigrateArgs(ctx, args);
              boolean block = blockMigration(args.getValue("block_migration"), ctx);
              boolean force = Boolean.TRUE.equals(args.getValue("force")) && atLeast(ctx, 30);
              return checkDestination(inst, host)
                  .compose(v -> conductor.liveMigrate(id, host, block, force, ctx.get("reqId")));
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

  private static boolean blockMigration(Object v, RoutingContext ctx) {
    if (v instanceof Boolean b) return b;
    if ("auto".equals(v) && atLeast(ctx, 25)) {
      // Without shared-storage detection "auto" means shared storage: no disk copy.
      return false;
    }
    throw invalid(
        "block_migration",
        v,
        v + " is not of type 'boolean'" + (atLeast(ctx, 25) ? " or 'auto'" : ""));
  }

  /**
   * Nova's synchronous destination checks, from the store: the host exists, is not the source, is
   * up, is enabled and has room (the scheduler's allocation ratios). Skipped for an instance the
   * conductor will refuse anyway (wrong state), so those get their 409. The checks apply to every
   * microversion and to {@code force: true} as well (force then only skips the scheduler's filters
   * and claim).
   */
  private Future<Void> checkDestination(InstanceRow inst, String host) {
    if (host == null) return Future.succeededFuture();
    if (!"ACTIVE".equals(inst.status()) && !"PAUSED".equals(inst.status())) {
      return Future.succeededFuture();
    }
    return conductor.db(
        s -> {
          Optional<ServiceRow> svc = s.service(host, COMPUTE_BINARY);
          Optional<HostRow> hr = s.host(host);
          if (svc.isEmpty() || hr.isEmpty()) {
            throw new ApiException(400, "Compute host " + host + " could not be found.");
          }
          if (host.equals(inst.host())) {
            throw new ApiException(
                400,
                "Unable to migrate instance (" + inst.uuid() + ") to current host (" + host + ").");
          }
          ServiceRow sv = svc.get();
          if (sv.forcedDown() || System.currentTimeMillis() - sv.lastSeenMs() > serviceDownTimeMs) {
            throw new ApiException(
                400, "Compute service of " + host + " is unavailable at this time.");
          }
          if (sv.disabled()) {
            throw new ApiException(
                400, "No valid host was found. Compute service of " + host + " is disabled.");
          }
          long mem = 0;
          long disk = 0;
          long cpu = 0;
          for (InstanceRow i : s.instances(host)) {
            mem += i.memoryMb();
            disk += i.diskGb();
            cpu += i.vcpus();
          }
          HostRow h = hr.get();
          if (h.memoryMb() - mem < inst.memoryMb()) {
            throw new ApiException(
                400,
                "No valid host was found. Insufficient RAM on "
                    + host
                    + ": "
                    + inst.memoryMb()
                    + " MB needed, "
                    + Math.max(0, h.memoryMb() - mem)
                    + " MB free.");
          }
          if (h.diskGb() - disk < inst.diskGb()) {
            throw new ApiException(
                400,
                "No valid host was found. Insufficient disk on "
                    + host
                    + ": "
                    + inst.diskGb()
                    + " GB needed, "
                    + Math.max(0, h.diskGb() - disk)
                    + " GB free.");
          }
          if ((long) (h.vcpus() * CPU_RATIO) - cpu < inst.vcpus()) {
            throw new ApiException(
                400, "No valid host was found. Insufficient vCPUs on " + host + ".");
          }
          return null;
        });
  }

  // ------------------------------------------------------------ migrations

  private JsonObject migrationView(RoutingContext ctx, MigrationRow m, boolean serverScoped) {
    JsonObject o =
        new JsonObject()
            .put("id", m.id)
            .put("source_compute", m.sourceCompute)
            .put("source_node", m.sourceCompute)
            .put("dest_compute", m.destCompute)
            .put("dest_node", m.destCompute)
            .put("dest_host", m.destCompute)
            .put("status", m.status.wire())
            .put("created_at", nowTime(m.createdMs))
            .put("updated_at", nowTime(m.updatedMs));
    if (serverScoped) {
      o.put("server_uuid", m.instanceUuid)
          .put("memory_total_bytes", m.memoryTotal)
          .put("memory_processed_bytes", m.memoryProcessed)
          .put("memory_remaining_bytes", m.memoryRemaining)
          .put("disk_total_bytes", m.diskTotal)
          .put("disk_processed_bytes", m.diskProcessed)
          .put("disk_remaining_bytes", m.diskRemaining);
    } else {
      o.put("instance_uuid", m.instanceUuid)
          // novaclient reads these on every version (AttributeError without them).
          .put("old_instance_type_id", null)
          .put("new_instance_type_id", null);
      if (atLeast(ctx, 23)) {
        o.put("migration_type", "live-migration");
        if (m.status.isInProgress()) {
          o.put("links", links(ctx, "servers/" + m.instanceUuid + "/migrations/" + m.id));
        }
      }
    }
    if (atLeast(ctx, 59)) o.put("uuid", m.uuid);
    // Ours, beyond Nova: why it ended, how it went (the clients ignore unknown fields).
    o.put("reason", m.reason)
        .put("message", m.message)
        .put("mode", m.mode)
        .put("iteration", m.iteration)
        .put("dirty_rate_bytes_per_sec", m.dirtyRate)
        .put("bandwidth_bytes_per_sec", m.bandwidth)
        .put("expected_downtime_ms", m.expectedDowntimeMs)
        .put("downtime_ms", m.downtimeMs < 0 ? null : m.downtimeMs)
        // The conductor's own estimates (convergence policy), null until it has one.
        .put("eta_seconds", m.etaMs < 0 ? null : m.etaMs / 1000.0)
        .put("predicted_downtime_ms", m.predictedDowntimeMs < 0 ? null : m.predictedDowntimeMs);
    // The post-mortem: what the conductor did and when each phase began (also in the final
    // notification), so an operator reads why a migration took long without the logs.
    JsonObject pm = Conductor.postMortem(m);
    o.put("actions", pm.getJsonArray("actions")).put("phases", pm.getJsonObject("phases"));
    if (!serverScoped) {
      o.put("memory_total_bytes", m.memoryTotal)
          .put("memory_processed_bytes", m.memoryProcessed)
          .put("memory_remaining_bytes", m.memoryRemaining);
    }
    return o;
  }

  private MigrationRow fresh(MigrationRow m) {
    return conductor.activeMigration(m.uuid).orElse(m);
  }

  private void serverMigrations(RoutingContext ctx) {
    requireVersion(ctx, 23);
    String id = uuidParam(ctx, "id", "Instance");
    requireAdmin(ctx, "os_compute_api:servers:migrations:index");
    conductor
        .db(
            s ->
                s.instance(id).isPresent()
                    ? Optional.of(s.migrations(id, null, null, 0))
                    : Optional.<List<MigrationRow>>empty())
        .onSuccess(
            opt -> {
              if (opt.isEmpty()) {
                error(ctx, 404, "Instance " + id + " could not be found.");
                return;
              }
              JsonArray arr = new JsonArray();
              for (MigrationRow m : opt.get()) {
                MigrationRow f = fresh(m);
                if (f.status.isInProgress()) arr.add(migrationView(ctx, f, true));
              }
              ctx.json(new JsonObject().put("migrations", arr));
            })
        .onFailure(ctx::fail);
  }

  private Future<MigrationRow> inProgress(String serverId, long mid) {
    return conductor
        .db(s -> s.instance(serverId).isPresent() ? s.migration(mid) : null)
        .map(
            opt -> {
              if (opt == null) {
                throw new ApiException(404, "Instance " + serverId + " could not be found.");
              }
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
    requireVersion(ctx, 23);
    String id = uuidParam(ctx, "id", "Instance");
    long mid = migrationIdParam(ctx, "mid");
    requireAdmin(ctx, "os_compute_api:servers:migrations:show");
    inProgress(id, mid)
        .onSuccess(m -> ctx.json(new JsonObject().put("migration", migrationView(ctx, m, true))))
        .onFailure(ctx::fail);
  }

  private void abortMigration(RoutingContext ctx) {
    requireVersion(ctx, 24);
    String id = uuidParam(ctx, "id", "Instance");
    long mid = migrationIdParam(ctx, "mid");
    requireAdmin(ctx, "os_compute_api:servers:migrations:delete");
    inProgress(id, mid)
        .compose(
            m -> {
              // Before 2.65 only a running migration can be aborted.
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
    inProgress(id, mid)
        .compose(m -> conductor.forceComplete(m.uuid, ctx.get("reqId")))
        .onSuccess(m -> ctx.response().setStatusCode(202).end())
        .onFailure(ctx::fail);
  }

  private void osMigrations(RoutingContext ctx) {
    requireAdmin(ctx, "os_compute_api:os-migrations:index");
    var q = ctx.queryParams();
    String instance = q.get("instance_uuid");
    String host = q.get("host");
    String status = q.get("status");
    String type = q.get("migration_type");
    String source = q.get("source_compute");
    boolean paging = atLeast(ctx, 59);
    int limit = paging ? intParam(q.get("limit"), "limit", Integer.MAX_VALUE) : Integer.MAX_VALUE;
    String marker = paging ? q.get("marker") : null;
    long since = paging ? timeParam(q.get("changes-since"), "changes-since") : Long.MIN_VALUE;
    if (type != null && !type.equals("live-migration")) {
      // Only live migrations exist here.
      ctx.json(new JsonObject().put("migrations", new JsonArray()));
      return;
    }
    conductor
        .db(s -> s.migrations(instance, host, status, 0))
        .onSuccess(
            list -> {
              List<MigrationRow> rows = new ArrayList<>();
              for (MigrationRow m : list) {
                MigrationRow f = fresh(m);
                if (source != null && !source.equals(f.sourceCompute)) continue;
                if (f.updatedMs < since) continue;
                rows.add(f);
              }
              int start = 0;
              if (marker != null) {
                start = -1;
                for (int i = 0; i < rows.size(); i++) {
                  if (rows.get(i).uuid.equals(marker)) start = i + 1;
                }
                if (start < 0) {
                  error(ctx, 400, "Marker " + clip(marker) + " could not be found.");
                  return;
                }
              }
              JsonArray arr = new JsonArray();
              for (int i = start; i < rows.size() && arr.size() < limit; i++) {
                arr.add(migrationView(ctx, rows.get(i), false));
              }
              ctx.json(new JsonObject().put("migrations", arr));
            })
        .onFailure(ctx::fail);
  }

  private static long timeParam(String raw, String name) {
    if (raw == null) return Long.MIN_VALUE;
    try {
      return OffsetDateTime.parse(raw.trim()).toInstant().toEpochMilli();
    } catch (DateTimeParseException e) {
      try {
        // Nova also takes a time without an offset, as UTC.
        return java.time.LocalDateTime.parse(raw.trim())
            .toInstant(java.time.ZoneOffset.UTC)
            .toEpochMilli();
      } catch (DateTimeParseException e2) {
        throw invalidQuery(name, raw, "is not a 'date-time'");
      }
    }
  }
}
