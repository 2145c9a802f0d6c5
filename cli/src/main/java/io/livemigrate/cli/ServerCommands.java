package io.livemigrate.cli;

import io.livemigrate.cli.Output.Column;
import io.vertx.core.json.JsonObject;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code server list | show | migrate}, as openstackclient's server commands. */
final class ServerCommands {
  private ServerCommands() {}

  @Command(
      name = "server",
      description = "Servers: list, show, migrate --live.",
      subcommands = {CommandLine.HelpCommand.class, ListServers.class, Show.class, Migrate.class})
  static final class Group extends ClientCommand.Group {}

  static JsonObject flavor(JsonObject s) {
    Object f = s.getValue("flavor");
    return f instanceof JsonObject j ? j : new JsonObject();
  }

  static final List<Column> COLUMNS =
      List.of(
          Column.of("ID", s -> s.getString("id")),
          Column.of("Name", s -> s.getString("name")),
          Column.of("Status", s -> s.getString("status")),
          Column.of("Host", s -> s.getString("OS-EXT-SRV-ATTR:host")),
          Column.of("Flavor", s -> flavor(s).getString("original_name")),
          Column.of("Project", s -> s.getString("tenant_id")).wideOnly(),
          Column.of("Task State", s -> s.getValue("OS-EXT-STS:task_state")).wideOnly(),
          Column.of("Zone", s -> s.getString("OS-EXT-AZ:availability_zone")).wideOnly(),
          Column.human("vCPUs", s -> flavor(s).getValue("vcpus"), Output::blank).wideOnly(),
          Column.human("RAM", s -> flavor(s).getValue("ram"), Output::mib).wideOnly(),
          Column.human("Disk", s -> flavor(s).getValue("disk"), v -> Output.blank(v) + " GiB")
              .wideOnly());

  @Command(name = "list", description = "List servers with status and host.")
  static final class ListServers extends ClientCommand {
    @Option(names = "--host", paramLabel = "HOST", description = "Only servers on this host")
    String host;

    @Option(names = "--long", description = "Also project, task state, zone, vCPUs, RAM, disk")
    boolean wide;

    @Override
    int run(ApiClient api) {
      Output.list(
          out,
          output,
          wide,
          COLUMNS,
          api.list(ApiClient.onHost("/servers/detail", host), "servers"));
      return 0;
    }
  }

  static final List<Column> SHOW =
      List.of(
          Column.of("id", s -> s.getString("id")),
          Column.of("name", s -> s.getString("name")),
          Column.of("status", s -> s.getString("status")),
          Column.of("OS-EXT-SRV-ATTR:host", s -> s.getValue("OS-EXT-SRV-ATTR:host")),
          Column.of("OS-EXT-STS:task_state", s -> s.getValue("OS-EXT-STS:task_state")),
          Column.of("OS-EXT-AZ:availability_zone", s -> s.getValue("OS-EXT-AZ:availability_zone")),
          Column.of("flavor", s -> flavor(s).getString("original_name")),
          Column.human("vcpus", s -> flavor(s).getValue("vcpus"), Output::blank),
          Column.human("ram", s -> flavor(s).getValue("ram"), Output::mib),
          Column.human("disk", s -> flavor(s).getValue("disk"), v -> Output.blank(v) + " GiB"),
          Column.of("project_id", s -> s.getString("tenant_id")),
          Column.of("user_id", s -> s.getString("user_id")),
          Column.of("progress", s -> s.getValue("progress")));

  @Command(name = "show", description = "Show one server (by name or ID).")
  static final class Show extends ClientCommand {
    @Parameters(paramLabel = "SERVER", description = "Server name or ID")
    String server;

    @Override
    int run(ApiClient api) {
      Output.object(out, output, SHOW, api.server(server));
      return 0;
    }
  }

  @Command(
      name = "migrate",
      description = {
        "Live-migrate a server; the scheduler picks the host unless one is given.",
        "Prints the migration it started; --wait draws its progress until it ends (Ctrl-C stops"
            + " watching, not the migration)."
      })
  static final class Migrate extends ClientCommand {
    @Parameters(index = "0", paramLabel = "SERVER", description = "Server name or ID")
    String server;

    @Option(
        names = "--live",
        arity = "0..1",
        fallbackValue = "",
        paramLabel = "HOST",
        description = "Live migration, optionally to this host",
        required = true)
    String live;

    @Option(names = "--block-migration", description = "Copy the local disks too")
    boolean block;

    @Option(names = "--wait", description = "Draw progress until the migration ends")
    boolean wait;

    @Option(names = "--poll-ms", defaultValue = "250", hidden = true)
    long pollMs;

    @Override
    int run(ApiClient api) {
      JsonObject s = api.server(server);
      String id = s.getString("id");
      String host = live == null || live.isEmpty() ? null : live;
      JsonObject before = api.newestMigration(id);
      api.send(
          "POST",
          "/servers/" + id + "/action",
          new JsonObject()
              .put(
                  "os-migrateLive",
                  new JsonObject().put("host", host).put("block_migration", block)),
          ApiClient.VERSION);
      JsonObject m = api.newestMigration(id);
      if (m == null || (before != null && before.getLong("id").equals(m.getLong("id")))) {
        // Accepted (202) but not listed yet: say so rather than show an older migration.
        out.println("Live migration of " + s.getString("name") + " (" + id + ") accepted.");
        return wait
            ? new ProgressBar(out, err, System.console() != null).follow(api, s, pollMs)
            : 0;
      }
      if (!wait) {
        MigrationCommands.printStarted(out, output, s, m);
        return 0;
      }
      err.println(
          "Live migration "
              + m.getLong("id")
              + " of "
              + s.getString("name")
              + ": "
              + m.getString("source_compute")
              + " -> "
              + (m.getString("dest_compute") == null
                  ? "(scheduler picks)"
                  : m.getString("dest_compute")));
      return new ProgressBar(out, err, System.console() != null).follow(api, s, pollMs);
    }
  }
}
