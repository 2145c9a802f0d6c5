package io.livemigrate.cli;

import io.livemigrate.cli.ApiClient.ApiError;
import io.livemigrate.cli.Output.Column;
import io.livemigrate.cli.Output.Format;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code compute service list | set}, as openstackclient's. */
final class ServiceCommands {
  private ServiceCommands() {}

  @Command(
      name = "compute",
      description = "Compute services.",
      subcommands = {CommandLine.HelpCommand.class, Service.class})
  static final class Group extends ClientCommand.Group {}

  @Command(
      name = "service",
      description = "Compute services: list, set.",
      subcommands = {CommandLine.HelpCommand.class, ListServices.class, SetService.class})
  static final class Service extends ClientCommand.Group {}

  static final List<Column> COLUMNS =
      List.of(
          Column.of("ID", s -> s.getValue("id")).wideOnly(),
          Column.of("Binary", s -> s.getString("binary")),
          Column.of("Host", s -> s.getString("host")),
          Column.of("Zone", s -> s.getString("zone")),
          Column.of("Status", s -> s.getString("status")),
          Column.of("State", s -> s.getString("state")),
          Column.of("Updated At", s -> s.getString("updated_at")),
          Column.human("Disabled Reason", s -> s.getValue("disabled_reason"), Output::blank),
          Column.of("Forced Down", s -> s.getBoolean("forced_down", false)).wideOnly());

  @Command(name = "list", description = "List services: up or down, enabled or disabled.")
  static final class ListServices extends ClientCommand {
    @Option(names = "--host", paramLabel = "HOST", description = "Only this host's")
    String host;

    @Option(names = "--long", description = "Also the service ID and forced-down flag")
    boolean wide;

    @Override
    int run(ApiClient api) {
      Output.list(
          out, output, wide, COLUMNS, api.list(ApiClient.onHost("/os-services", host), "services"));
      return 0;
    }
  }

  @Command(name = "set", description = "Enable, disable or force down a host's compute service.")
  static final class SetService extends ClientCommand {
    @Parameters(index = "0", paramLabel = "HOST", description = "Host")
    String host;

    @Parameters(
        index = "1",
        paramLabel = "BINARY",
        defaultValue = "nova-compute",
        description = "Service binary (default ${DEFAULT-VALUE})")
    String binary;

    @Option(names = "--enable", description = "Let the scheduler pick this host again")
    boolean enable;

    @Option(names = "--disable", description = "Keep the scheduler from picking this host")
    boolean disable;

    @Option(names = "--disable-reason", paramLabel = "REASON", description = "Why (with --disable)")
    String reason;

    @Option(names = "--down", description = "Force the service down")
    boolean down;

    @Option(names = "--up", description = "Clear a forced down")
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
      if (output.format == Format.table && output.columns.isEmpty()) {
        out.printf(
            "Compute service %s on %s: %s, %s%s%n",
            s.getString("binary", binary),
            s.getString("host", host),
            s.getString("status"),
            s.getString("state"),
            s.getValue("disabled_reason") == null
                ? ""
                : " (" + s.getValue("disabled_reason") + ")");
        return 0;
      }
      Output.object(out, output, COLUMNS, s);
      return 0;
    }
  }
}
