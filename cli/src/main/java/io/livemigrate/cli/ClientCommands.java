package io.livemigrate.cli;

import io.livemigrate.cli.ApiClient.ApiError;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Client commands over the Nova-compatible API: {@code server list/show/migrate}, {@code compute
 * service list/set}, {@code host show}, {@code hypervisor list}, {@code migration
 * list/show/abort/force-complete}. Endpoint and token come from {@code --os-endpoint/--os-token} or
 * OS_ENDPOINT/OS_TOKEN. Exit status 0 on success; 1 with the API's message (and request id) on
 * stderr when the API refuses or a waited-for migration does not complete.
 */
final class ClientCommands {
  private ClientCommands() {}

  /** Connection and output options shared by every client command. */
  static final class Conn {
    @Option(names = "--os-endpoint", description = "API endpoint (default: $OS_ENDPOINT)")
    String endpoint = System.getenv("OS_ENDPOINT");

    @Option(names = "--os-token", description = "API token (default: $OS_TOKEN)")
    String token = System.getenv("OS_TOKEN");

    @Option(
        names = {"-f", "--format"},
        description = "table or json (default ${DEFAULT-VALUE})",
        defaultValue = "table")
    String format;

    ApiClient client() {
      return new ApiClient(endpoint, token);
    }
  }

  /** Runs a command body; API errors become exit status 1 with the message on stderr. */
  abstract static class Base implements Callable<Integer> {
    @Mixin Conn conn;

    PrintStream out = System.out;
    PrintStream err = System.err;

    abstract int run(ApiClient api) throws Exception;

    @Override
    public Integer call() throws Exception {
      try {
        return run(conn.client());
      } catch (ApiError e) {
        err.println(e.getMessage());
        return 1;
      }
    }
  }

  // ------------------------------------------------------------ server

  @Command(
      name = "server",
      description = "Servers: list, show, migrate --live.",
      subcommands = {ServerList.class, ServerShow.class, ServerMigrate.class})
  static final class ServerCommand {}

  @Command(name = "list", description = "List servers with status and host.")
  static final class ServerList extends Base {
    @Option(names = "--host", description = "only servers on this host")
    String host;

    @Override
    int run(ApiClient api) {
      String path = "/servers/detail" + (host == null ? "" : "?host=" + ApiClient.q(host));
      List<List<Object>> rows = new ArrayList<>();
      for (Object o : api.get(path).getJsonArray("servers")) {
        JsonObject s = (JsonObject) o;
        rows.add(
            List.of(
                s.getString("id"),
                s.getString("name"),
                s.getString("status"),
                String.valueOf(s.getString("OS-EXT-SRV-ATTR:host")),
                s.getJsonObject("flavor").getString("original_name", "")));
      }
      ApiClient.print(out, conn.format, List.of("ID", "Name", "Status", "Host", "Flavor"), rows);
      return 0;
    }
  }

  @Command(name = "show", description = "Show one server (by name or ID).")
  static final class ServerShow extends Base {
    @Parameters(description = "server name or ID")
    String server;

    @Override
    int run(ApiClient api) {
      JsonObject s = api.server(server);
      Map<String, Object> f = new LinkedHashMap<>();
      f.put("OS-EXT-SRV-ATTR:host", s.getValue("OS-EXT-SRV-ATTR:host"));
      f.put("OS-EXT-STS:task_state", s.getValue("OS-EXT-STS:task_state"));
      f.put("flavor", s.getJsonObject("flavor").getString("original_name"));
      f.put("id", s.getString("id"));
      f.put("name", s.getString("name"));
      f.put("progress", s.getValue("progress"));
      f.put("project_id", s.getString("tenant_id"));
      f.put("status", s.getString("status"));
      ApiClient.printObject(out, conn.format, f);
      return 0;
    }
  }

  @Command(
      name = "migrate",
      description = "Live-migrate a server; the scheduler picks the host unless one is given.")
  static final class ServerMigrate extends Base {
    @Parameters(index = "0", description = "server name or ID")
    String server;

    @Option(
        names = "--live",
        arity = "0..1",
        fallbackValue = "",
        description = "live migration, optionally to this host",
        required = true)
    String live;

    @Option(names = "--block-migration", description = "copy the disks too")
    boolean block;

    @Option(names = "--wait", description = "draw progress until the migration ends")
    boolean wait;

    @Option(names = "--poll-ms", defaultValue = "250", hidden = true)
    long pollMs;

    @Override
    int run(ApiClient api) {
      JsonObject s = api.server(server);
      String id = s.getString("id");
      String host = live == null || live.isEmpty() ? null : live;
      api.send(
          "POST",
          "/servers/" + id + "/action",
          new JsonObject()
              .put(
                  "os-migrateLive",
                  new JsonObject().put("host", host).put("block_migration", block)),
          ApiClient.VERSION);
      if (!wait) return 0;
      return new ProgressBar(out, err, System.console() != null).follow(api, id, pollMs);
    }
  }

  // ------------------------------------------------------------ compute service

  @Command(
      name = "compute",
      description = "Compute services.",
      subcommands = {ServiceCommand.class})
  static final class ComputeCommand {}

  @Command(
      name = "service",
      description = "Compute services: list, set.",
      subcommands = {ServiceList.class, ServiceSet.class})
  static final class ServiceCommand {}

  @Command(name = "list", description = "List services.")
  static final class ServiceList extends Base {
    @Override
    int run(ApiClient api) {
      List<List<Object>> rows = new ArrayList<>();
      for (Object o : api.get("/os-services").getJsonArray("services")) {
        JsonObject s = (JsonObject) o;
        rows.add(
            List.of(
                s.getString("id"),
                s.getString("binary"),
                s.getString("host"),
                s.getString("zone"),
                s.getString("status"),
                s.getString("state"),
                String.valueOf(s.getValue("disabled_reason")),
                s.getBoolean("forced_down", false),
                s.getString("updated_at")));
      }
      ApiClient.print(
          out,
          conn.format,
          List.of(
              "ID",
              "Binary",
              "Host",
              "Zone",
              "Status",
              "State",
              "Disabled Reason",
              "Forced Down",
              "Updated At"),
          rows);
      return 0;
    }
  }

  @Command(name = "set", description = "Enable, disable or force down a host's compute service.")
  static final class ServiceSet extends Base {
    @Parameters(index = "0", description = "host")
    String host;

    @Parameters(index = "1", defaultValue = "nova-compute", description = "binary")
    String binary;

    @Option(names = "--enable")
    boolean enable;

    @Option(names = "--disable")
    boolean disable;

    @Option(names = "--disable-reason")
    String reason;

    @Option(names = "--down")
    boolean down;

    @Option(names = "--up")
    boolean up;

    @Override
    int run(ApiClient api) {
      if ((enable && disable) || (up && down) || !(enable || disable || up || down)) {
        throw new ApiError(0, "give one of --enable/--disable and/or one of --up/--down");
      }
      JsonArray l =
          api.get("/os-services?host=" + ApiClient.q(host) + "&binary=" + ApiClient.q(binary))
              .getJsonArray("services");
      if (l.isEmpty()) throw new ApiError(404, "no " + binary + " service on host " + host);
      JsonObject body = new JsonObject();
      if (enable || disable) body.put("status", disable ? "disabled" : "enabled");
      if (disable && reason != null) body.put("disabled_reason", reason);
      if (up || down) body.put("forced_down", down);
      JsonObject s =
          api.send(
                  "PUT",
                  "/os-services/" + l.getJsonObject(0).getString("id"),
                  body,
                  ApiClient.VERSION)
              .getJsonObject("service");
      Map<String, Object> f = new LinkedHashMap<>();
      for (String k :
          List.of("host", "binary", "status", "state", "disabled_reason", "forced_down"))
        f.put(k, s.getValue(k));
      ApiClient.printObject(out, conn.format, f);
      return 0;
    }
  }

  // ------------------------------------------------------------ host, hypervisor

  @Command(
      name = "host",
      description = "Hosts.",
      subcommands = {HostShow.class, HostDrain.class})
  static final class HostCommand {}

  /**
   * Server-side drain: the conductor moves every instance off the host (within the outbound
   * limits), retries failures and reports; {@code --wait} follows it to the end.
   */
  @Command(
      name = "drain",
      description = "Live-migrate every instance off a host (server side), disabling it first.")
  static final class HostDrain extends Base {
    @Parameters(description = "host")
    String host;

    @Option(names = "--target-host", description = "Send everything to this host")
    String target;

    @Option(names = "--block-migration", description = "Copy local disks too")
    boolean block;

    @Option(
        names = "--max-retries",
        defaultValue = "2",
        description = "Retries per server (default ${DEFAULT-VALUE})")
    int retries;

    @Option(names = "--keep-enabled", description = "Do not disable the host's compute service")
    boolean keepEnabled;

    @Option(names = "--wait", description = "Follow the drain until it ends")
    boolean await;

    @Override
    int run(ApiClient api) {
      JsonObject req =
          new JsonObject()
              .put(
                  "drain",
                  new JsonObject()
                      .put("host", host)
                      .put("target_host", target)
                      .put("block_migration", block)
                      .put("max_retries", retries)
                      .put("disable", !keepEnabled));
      JsonObject d = api.send("POST", "/os-livemigrate-drains", req, "2.1").getJsonObject("drain");
      String id = d.getString("id");
      if (!await) {
        printDrain(d);
        return 0;
      }
      // On a terminal the line redraws in place; in a log, a line per change.
      boolean tty = System.console() != null;
      String last = "";
      while ("running".equals(d.getString("status"))) {
        String line =
            String.format(
                "drain %s: %d/%d moved, %d failed, %d%%, ETA %s",
                host,
                d.getInteger("completed"),
                d.getInteger("total"),
                d.getInteger("failed"),
                d.getInteger("progress_percent"),
                d.getValue("eta_seconds") == null ? "?" : d.getValue("eta_seconds") + " s");
        if (tty) {
          err.print("\r" + line + "   ");
        } else if (!line.equals(last)) {
          err.println(line);
        }
        last = line;
        LockSupport.parkNanos(500_000_000L);
        d = api.send("GET", "/os-livemigrate-drains/" + id, null, "2.1").getJsonObject("drain");
      }
      if (tty) err.println();
      printDrain(d);
      return "completed".equals(d.getString("status")) ? 0 : 1;
    }

    private void printDrain(JsonObject d) {
      if ("json".equals(conn.format)) {
        out.println(d.encodePrettily());
        return;
      }
      out.printf(
          "drain %s of %s: %s, %d of %d moved, %d failed, %.1f s%n",
          d.getString("id"),
          d.getString("host"),
          d.getString("status"),
          d.getInteger("completed"),
          d.getInteger("total"),
          d.getInteger("failed"),
          d.getDouble("elapsed_seconds"));
      List<List<Object>> rows = new ArrayList<>();
      for (Object o : d.getJsonArray("servers")) {
        JsonObject sv = (JsonObject) o;
        rows.add(
            List.of(
                sv.getString("name"),
                sv.getString("state"),
                sv.getInteger("attempts"),
                String.valueOf(sv.getString("dest_compute")),
                sv.getString("reason") == null ? "" : sv.getString("reason")));
      }
      ApiClient.print(
          out, "table", List.of("Server", "State", "Attempts", "Destination", "Reason"), rows);
    }
  }

  @Command(name = "show", description = "A host's resources: total, used, per project.")
  static final class HostShow extends Base {
    @Parameters(description = "host")
    String host;

    @Override
    int run(ApiClient api) {
      JsonArray l =
          api.send("GET", "/os-hosts/" + ApiClient.q(host), null, "2.1").getJsonArray("host");
      List<List<Object>> rows = new ArrayList<>();
      for (Object o : l) {
        JsonObject r = ((JsonObject) o).getJsonObject("resource");
        rows.add(
            List.of(
                r.getString("host"),
                r.getString("project"),
                r.getLong("cpu"),
                r.getLong("memory_mb"),
                r.getLong("disk_gb")));
      }
      ApiClient.print(
          out, conn.format, List.of("Host", "Project", "CPU", "Memory MB", "Disk GB"), rows);
      return 0;
    }
  }

  @Command(
      name = "hypervisor",
      description = "Hypervisors.",
      subcommands = {HypervisorList.class})
  static final class HypervisorCommand {}

  @Command(name = "list", description = "List hypervisors with their use.")
  static final class HypervisorList extends Base {
    @Override
    int run(ApiClient api) {
      List<List<Object>> rows = new ArrayList<>();
      for (Object o :
          api.send("GET", "/os-hypervisors/detail", null, "2.53").getJsonArray("hypervisors")) {
        JsonObject h = (JsonObject) o;
        rows.add(
            List.of(
                h.getString("hypervisor_hostname"),
                h.getString("hypervisor_type"),
                h.getString("state"),
                h.getString("status"),
                h.getLong("vcpus_used") + "/" + h.getLong("vcpus"),
                h.getLong("memory_mb_used") + "/" + h.getLong("memory_mb"),
                h.getLong("running_vms")));
      }
      ApiClient.print(
          out,
          conn.format,
          List.of("Hypervisor Hostname", "Type", "State", "Status", "vCPUs", "Memory MB", "VMs"),
          rows);
      return 0;
    }
  }

  // ------------------------------------------------------------ migration

  @Command(
      name = "migration",
      description = "Live migrations: list, show, abort, force-complete.",
      subcommands = {
        MigrationList.class,
        MigrationShow.class,
        MigrationAbort.class,
        MigrationForceComplete.class
      })
  static final class MigrationCommand {}

  static List<Object> migrationRow(JsonObject m) {
    return List.of(
        m.getLong("id"),
        m.getString("instance_uuid"),
        String.valueOf(m.getString("source_compute")),
        String.valueOf(m.getString("dest_compute")),
        m.getString("status"),
        String.valueOf(m.getValue("reason")),
        m.getLong("memory_processed_bytes", 0L),
        m.getLong("memory_total_bytes", 0L),
        m.getString("updated_at"));
  }

  @Command(name = "list", description = "List migrations, newest first.")
  static final class MigrationList extends Base {
    @Option(names = "--server", description = "only this server's (name or ID)")
    String server;

    @Option(names = "--status")
    String status;

    @Option(names = "--host")
    String host;

    @Option(names = "--limit")
    Integer limit;

    @Override
    int run(ApiClient api) {
      List<String> q = new ArrayList<>();
      if (server != null) q.add("instance_uuid=" + api.server(server).getString("id"));
      if (status != null) q.add("status=" + ApiClient.q(status));
      if (host != null) q.add("host=" + ApiClient.q(host));
      if (limit != null) q.add("limit=" + limit);
      String path = "/os-migrations" + (q.isEmpty() ? "" : "?" + String.join("&", q));
      List<List<Object>> rows = new ArrayList<>();
      for (Object o : api.get(path).getJsonArray("migrations")) {
        rows.add(migrationRow((JsonObject) o));
      }
      ApiClient.print(
          out,
          conn.format,
          List.of(
              "Id",
              "Server",
              "Source",
              "Dest",
              "Status",
              "Reason",
              "Memory Processed",
              "Memory Total",
              "Updated At"),
          rows);
      return 0;
    }
  }

  @Command(name = "show", description = "One migration of a server, in progress or finished.")
  static final class MigrationShow extends Base {
    @Parameters(index = "0", description = "server name or ID")
    String server;

    @Parameters(index = "1", description = "migration id")
    long id;

    @Override
    int run(ApiClient api) {
      String uuid = api.server(server).getString("id");
      for (Object o : api.get("/os-migrations?instance_uuid=" + uuid).getJsonArray("migrations")) {
        JsonObject m = (JsonObject) o;
        if (m.getLong("id") == id) {
          ApiClient.printObject(out, conn.format, new java.util.TreeMap<>(m.getMap()));
          return 0;
        }
      }
      throw new ApiError(404, "Migration " + id + " is not found for server " + uuid + ".");
    }
  }

  @Command(name = "abort", description = "Abort an in-progress live migration.")
  static final class MigrationAbort extends Base {
    @Parameters(index = "0", description = "server name or ID")
    String server;

    @Parameters(index = "1", description = "migration id")
    long id;

    @Override
    int run(ApiClient api) {
      String uuid = api.server(server).getString("id");
      api.send("DELETE", "/servers/" + uuid + "/migrations/" + id, null, ApiClient.VERSION);
      return 0;
    }
  }

  @Command(
      name = "force-complete",
      description = "Force a running live migration to complete (pause or post-copy).")
  static final class MigrationForceComplete extends Base {
    @Parameters(index = "0", description = "server name or ID")
    String server;

    @Parameters(index = "1", description = "migration id")
    long id;

    @Override
    int run(ApiClient api) {
      String uuid = api.server(server).getString("id");
      api.send(
          "POST",
          "/servers/" + uuid + "/migrations/" + id + "/action",
          new JsonObject().putNull("force_complete"),
          ApiClient.VERSION);
      return 0;
    }
  }

  // ------------------------------------------------------------ progress

  /**
   * Follows a server's newest migration to its end: a bar with bytes copied, dirty rate and ETA,
   * redrawn in place on a terminal and printed as lines otherwise. Returns 0 when it completed, 1
   * (with status, reason and message on stderr) otherwise.
   */
  static final class ProgressBar {
    private static final int WIDTH = 30;
    private final PrintStream out;
    private final PrintStream err;
    private final boolean tty;

    ProgressBar(PrintStream out, PrintStream err, boolean tty) {
      this.out = out;
      this.err = err;
      this.tty = tty;
    }

    int follow(ApiClient api, String serverId, long pollMs) {
      String lastLine = "";
      while (true) {
        JsonArray l =
            api.get("/os-migrations?instance_uuid=" + serverId + "&limit=1")
                .getJsonArray("migrations");
        if (l.isEmpty()) throw new ApiError(404, "no migration found for server " + serverId);
        JsonObject m = l.getJsonObject(0);
        String status = m.getString("status");
        String line = render(m);
        if (tty) {
          out.print("\r" + line + "\u001b[K");
          out.flush();
        } else if (!line.equals(lastLine)) {
          out.println(line);
        }
        lastLine = line;
        switch (status) {
          case "completed" -> {
            if (tty) out.println();
            out.println(
                "Migration "
                    + m.getLong("id")
                    + " completed: "
                    + m.getString("source_compute")
                    + " -> "
                    + m.getString("dest_compute"));
            return 0;
          }
          case "failed", "cancelled", "error" -> {
            if (tty) out.println();
            err.println(
                "Migration "
                    + m.getLong("id")
                    + " "
                    + status
                    + ": "
                    + m.getValue("reason")
                    + (m.getString("message") == null ? "" : " (" + m.getString("message") + ")"));
            return 1;
          }
          default -> LockSupport.parkNanos(pollMs * 1_000_000L);
        }
      }
    }

    static String render(JsonObject m) {
      long total = m.getLong("memory_total_bytes", 0L);
      long done = m.getLong("memory_processed_bytes", 0L);
      long remaining = m.getLong("memory_remaining_bytes", total);
      long dirty = m.getLong("dirty_rate_bytes_per_sec", 0L);
      long bw = m.getLong("bandwidth_bytes_per_sec", 0L);
      String status = m.getString("status");
      int pct =
          "completed".equals(status)
              ? 100
              : total <= 0 ? 0 : (int) Math.max(0, Math.min(100, 100 - remaining * 100 / total));
      int fill = pct * WIDTH / 100;
      String eta;
      if ("completed".equals(status)) eta = "0s";
      else if (bw > dirty && bw > 0) eta = ((remaining + bw - dirty - 1) / (bw - dirty)) + "s";
      else if (bw > 0) eta = "never (dirtying faster than the link)";
      else eta = "--";
      return String.format(
          "[%s%s] %3d%%  %s / %s  dirty %s/s  ETA %s  %s",
          "#".repeat(fill),
          "-".repeat(WIDTH - fill),
          pct,
          bytes(done),
          bytes(total),
          bytes(dirty),
          eta,
          status);
    }

    static String bytes(long b) {
      if (b >= 1L << 30) return String.format("%.1f GiB", b / (double) (1L << 30));
      if (b >= 1L << 20) return String.format("%.1f MiB", b / (double) (1L << 20));
      if (b >= 1L << 10) return String.format("%.1f KiB", b / 1024.0);
      return b + " B";
    }
  }
}
