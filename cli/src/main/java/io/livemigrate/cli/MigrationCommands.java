package io.livemigrate.cli;

import io.livemigrate.cli.ApiClient.ApiError;
import io.livemigrate.cli.Output.Column;
import io.livemigrate.cli.Output.Format;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migration list | show | abort | force-complete}. */
final class MigrationCommands {
  private MigrationCommands() {}

  @Command(
      name = "migration",
      description = "Live migrations: list, show, abort, force-complete.",
      subcommands = {
        CommandLine.HelpCommand.class,
        ListMigrations.class,
        Show.class,
        Abort.class,
        ForceComplete.class
      })
  static final class Group extends ClientCommand.Group {}

  // ------------------------------------------------------------ values of a migration

  static long phase(JsonObject m, String name) {
    JsonObject p = m.getJsonObject("phases");
    Object v = p == null ? null : p.getValue(name);
    return v instanceof Number n ? n.longValue() : 0;
  }

  /** How long it took, or has taken so far, in ms; null when the API does not say. */
  static Long durationMs(JsonObject m) {
    long start = phase(m, "accepted_ms");
    if (start <= 0) return null;
    long end = phase(m, "finished_ms");
    return (end > 0 ? end : System.currentTimeMillis()) - start;
  }

  /** Percent of memory copied (100 once completed); null before the copy starts. */
  static Integer progress(JsonObject m) {
    if ("completed".equals(m.getString("status"))) return 100;
    Long total = m.getLong("memory_total_bytes");
    if (total == null || total <= 0) return null;
    long remaining = m.getLong("memory_remaining_bytes", total);
    return (int) Math.max(0, Math.min(100, 100 - remaining * 100 / total));
  }

  static String serverName(Map<String, String> names, JsonObject m) {
    String uuid = m.getString("instance_uuid");
    return names.getOrDefault(uuid, uuid);
  }

  static List<Column> columns(Map<String, String> names) {
    return List.of(
        Column.of("Id", m -> m.getLong("id")),
        Column.of("Server", m -> serverName(names, m)),
        Column.of("Source", m -> m.getString("source_compute")),
        Column.human("Dest", m -> m.getString("dest_compute"), Output::blank),
        Column.of("Status", m -> m.getString("status")),
        Column.human("Progress", MigrationCommands::progress, Output::percent),
        Column.human("Memory", m -> m.getLong("memory_total_bytes"), Output::bytes),
        Column.human("Downtime", m -> m.getLong("downtime_ms"), Output::millis),
        Column.human("Duration", MigrationCommands::durationMs, Output::millis),
        Column.human("Reason", m -> m.getValue("reason"), Output::blank),
        Column.of("UUID", m -> m.getString("uuid")).wideOnly(),
        Column.of("Server ID", m -> m.getString("instance_uuid")).wideOnly(),
        Column.human("Mode", m -> m.getValue("mode"), Output::blank).wideOnly(),
        Column.human("Iterations", m -> m.getValue("iteration"), Output::blank).wideOnly(),
        Column.human("Memory Copied", m -> m.getLong("memory_processed_bytes"), Output::bytes)
            .wideOnly(),
        Column.human("Disk", m -> m.getLong("disk_total_bytes"), Output::bytes).wideOnly(),
        Column.human("Dirty Rate", m -> m.getLong("dirty_rate_bytes_per_sec"), Output::rate)
            .wideOnly(),
        Column.human("Bandwidth", m -> m.getLong("bandwidth_bytes_per_sec"), Output::rate)
            .wideOnly(),
        Column.human("ETA", m -> m.getValue("eta_seconds"), Output::seconds).wideOnly(),
        Column.human("Message", m -> m.getValue("message"), Output::blank).wideOnly(),
        Column.of("Created At", m -> m.getString("created_at")).wideOnly(),
        Column.of("Updated At", m -> m.getString("updated_at")).wideOnly());
  }

  static List<Column> fields(Map<String, String> names) {
    return List.of(
        Column.of("id", m -> m.getLong("id")),
        Column.of("uuid", m -> m.getString("uuid")),
        Column.of("server", m -> serverName(names, m)),
        Column.of("server_id", m -> m.getString("instance_uuid")),
        Column.of("status", m -> m.getString("status")),
        Column.of("reason", m -> m.getValue("reason")),
        Column.of("message", m -> m.getValue("message")),
        Column.of("source_compute", m -> m.getString("source_compute")),
        Column.of("dest_compute", m -> m.getValue("dest_compute")),
        Column.of("mode", m -> m.getValue("mode")),
        Column.human("progress", MigrationCommands::progress, Output::percent),
        Column.human("memory_total", m -> m.getLong("memory_total_bytes"), Output::bytes),
        Column.human("memory_processed", m -> m.getLong("memory_processed_bytes"), Output::bytes),
        Column.human("memory_remaining", m -> m.getLong("memory_remaining_bytes"), Output::bytes),
        Column.human("disk_total", m -> m.getLong("disk_total_bytes"), Output::bytes),
        Column.human("disk_processed", m -> m.getLong("disk_processed_bytes"), Output::bytes),
        Column.human("disk_remaining", m -> m.getLong("disk_remaining_bytes"), Output::bytes),
        Column.of("iterations", m -> m.getValue("iteration")),
        Column.human("dirty_rate", m -> m.getLong("dirty_rate_bytes_per_sec"), Output::rate),
        Column.human("bandwidth", m -> m.getLong("bandwidth_bytes_per_sec"), Output::rate),
        Column.human("eta", m -> m.getValue("eta_seconds"), Output::seconds),
        Column.human("expected_downtime", m -> m.getValue("expected_downtime_ms"), Output::millis),
        Column.human(
            "predicted_downtime", m -> m.getValue("predicted_downtime_ms"), Output::millis),
        Column.human("downtime", m -> m.getValue("downtime_ms"), Output::millis),
        Column.human("duration", MigrationCommands::durationMs, Output::millis),
        Column.of("actions", m -> m.getValue("actions")),
        Column.of("created_at", m -> m.getString("created_at")),
        Column.of("updated_at", m -> m.getString("updated_at")));
  }

  /** What {@code server migrate} prints: the migration it started and how to follow it. */
  static void printStarted(PrintStream out, Output.Options o, JsonObject server, JsonObject m) {
    String name = server.getString("name");
    if (o.format == Format.table && o.columns.isEmpty()) {
      out.printf(
          "Live migration %d of %s (%s) from %s: %s%n",
          m.getLong("id"),
          name,
          server.getString("id"),
          m.getString("source_compute"),
          m.getString("status"));
      out.printf(
          "  follow it: %s migration show %s %d%n  abort it:  %s migration abort %s %d%n",
          Main.prog(), name, m.getLong("id"), Main.prog(), name, m.getLong("id"));
      return;
    }
    Output.object(out, o, fields(Map.of(server.getString("id"), name)), m);
  }

  /** What abort and force-complete print: the request and the migration's status now. */
  static void printAction(
      PrintStream out, Output.Options o, String action, JsonObject server, JsonObject m) {
    String name = server.getString("name");
    if (o.format == Format.table && o.columns.isEmpty()) {
      out.printf(
          "%s of live migration %d of %s requested; status now: %s%n",
          action, m.getLong("id"), name, m.getString("status"));
      return;
    }
    Output.object(
        out,
        o,
        List.of(
            Column.of("id", j -> j.getLong("id")),
            Column.of("server", j -> name),
            Column.of("action", j -> action.toLowerCase().replace(' ', '_')),
            Column.of("status", j -> j.getString("status"))),
        m);
  }

  /** A server's migration by id, from the list (finished ones included). */
  static JsonObject find(ApiClient api, String serverId, long id) {
    for (Object o :
        api.get("/os-migrations?instance_uuid=" + serverId).getJsonArray("migrations")) {
      JsonObject m = (JsonObject) o;
      if (m.getLong("id") == id) return m;
    }
    throw new ApiError(404, "Migration " + id + " is not found for server " + serverId + ".");
  }

  // ------------------------------------------------------------ commands

  @Command(name = "list", description = "List live migrations, newest first.")
  static final class ListMigrations extends ClientCommand {
    @Option(names = "--server", paramLabel = "SERVER", description = "Only this server's")
    String server;

    @Option(names = "--status", paramLabel = "STATUS", description = "Only in this status")
    String status;

    @Option(names = "--host", paramLabel = "HOST", description = "Only from or to this host")
    String host;

    @Option(names = "--limit", paramLabel = "N", description = "At most N migrations")
    Integer limit;

    @Option(
        names = "--long",
        description = "Also uuid, mode, iterations, bytes copied, dirty rate, ETA, times")
    boolean wide;

    @Override
    int run(ApiClient api) {
      List<String> q = new ArrayList<>();
      if (server != null) q.add("instance_uuid=" + api.server(server).getString("id"));
      if (status != null) q.add("status=" + ApiClient.q(status));
      if (host != null) q.add("host=" + ApiClient.q(host));
      if (limit != null) q.add("limit=" + limit);
      String path = "/os-migrations" + (q.isEmpty() ? "" : "?" + String.join("&", q));
      List<JsonObject> l = api.list(path, "migrations");
      Map<String, String> names = l.isEmpty() ? Map.of() : api.serverNames();
      Output.list(out, output, wide, columns(names), l);
      return 0;
    }
  }

  /** A command on one migration of one server: {@code SERVER MIGRATION}. */
  abstract static class OneMigration extends ClientCommand {
    @Parameters(index = "0", paramLabel = "SERVER", description = "Server name or ID")
    String server;

    @Parameters(index = "1", paramLabel = "MIGRATION", description = "Migration id")
    long id;
  }

  @Command(name = "show", description = "One migration of a server, in progress or finished.")
  static final class Show extends OneMigration {
    @Override
    int run(ApiClient api) {
      JsonObject s = api.server(server);
      JsonObject m = find(api, s.getString("id"), id);
      Output.object(out, output, fields(Map.of(s.getString("id"), s.getString("name"))), m);
      return 0;
    }
  }

  @Command(name = "abort", description = "Abort an in-progress live migration.")
  static final class Abort extends OneMigration {
    @Override
    int run(ApiClient api) {
      JsonObject s = api.server(server);
      String uuid = s.getString("id");
      api.send("DELETE", "/servers/" + uuid + "/migrations/" + id, null, ApiClient.VERSION);
      printAction(out, output, "Abort", s, find(api, uuid, id));
      return 0;
    }
  }

  @Command(
      name = "force-complete",
      description = "Force a running live migration to complete (pause or post-copy).")
  static final class ForceComplete extends OneMigration {
    @Override
    int run(ApiClient api) {
      JsonObject s = api.server(server);
      String uuid = s.getString("id");
      api.send(
          "POST",
          "/servers/" + uuid + "/migrations/" + id + "/action",
          new JsonObject().putNull("force_complete"),
          ApiClient.VERSION);
      printAction(out, output, "Force-complete", s, find(api, uuid, id));
      return 0;
    }
  }
}
