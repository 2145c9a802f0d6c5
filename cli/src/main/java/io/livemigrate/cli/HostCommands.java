package io.livemigrate.cli;

import io.livemigrate.cli.Output.Column;
import io.livemigrate.cli.Output.Format;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code host show | drain} and {@code hypervisor list}. */
final class HostCommands {
  private HostCommands() {}

  @Command(
      name = "host",
      description = "Hosts: show resources, drain.",
      subcommands = {CommandLine.HelpCommand.class, Show.class, Drain.class})
  static final class Group extends ClientCommand.Group {}

  @Command(
      name = "hypervisor",
      description = "Hypervisors.",
      subcommands = {CommandLine.HelpCommand.class, ListHypervisors.class})
  static final class HypervisorGroup extends ClientCommand.Group {}

  static final List<Column> RESOURCES =
      List.of(
          Column.of("Host", r -> r.getString("host")),
          Column.of("Project", r -> r.getString("project")),
          Column.of("CPU", r -> r.getLong("cpu")),
          Column.human("Memory", r -> r.getLong("memory_mb"), Output::mib),
          Column.human("Disk", r -> r.getLong("disk_gb"), v -> Output.blank(v) + " GiB"));

  @Command(
      name = "show",
      description = "A host's resources: total, used now, used max, per project.")
  static final class Show extends ClientCommand {
    @Parameters(paramLabel = "HOST", description = "Host")
    String host;

    @Override
    int run(ApiClient api) {
      List<JsonObject> l = new ArrayList<>();
      for (Object o :
          api.send("GET", "/os-hosts/" + ApiClient.q(host), null, "2.1").getJsonArray("host")) {
        l.add(((JsonObject) o).getJsonObject("resource"));
      }
      Output.list(out, output, false, RESOURCES, l);
      return 0;
    }
  }

  static final List<Column> HYPERVISORS =
      List.of(
          Column.of("Hypervisor Hostname", h -> h.getString("hypervisor_hostname")),
          Column.of("Type", h -> h.getString("hypervisor_type")),
          Column.of("State", h -> h.getString("state")),
          Column.of("Status", h -> h.getString("status")),
          Column.human("vCPUs Used", h -> h.getLong("vcpus_used"), v -> Output.blank(v)),
          Column.of("vCPUs", h -> h.getLong("vcpus")),
          Column.human("Memory Used", h -> h.getLong("memory_mb_used"), Output::mib),
          Column.human("Memory", h -> h.getLong("memory_mb"), Output::mib),
          Column.of("VMs", h -> h.getLong("running_vms")),
          Column.of("ID", h -> h.getValue("id")).wideOnly(),
          Column.of("Host IP", h -> h.getString("host_ip")).wideOnly(),
          Column.human("Disk Used", h -> h.getLong("local_gb_used"), v -> Output.blank(v) + " GiB")
              .wideOnly(),
          Column.human("Disk", h -> h.getLong("local_gb"), v -> Output.blank(v) + " GiB")
              .wideOnly());

  @Command(name = "list", description = "List hypervisors with their use.")
  static final class ListHypervisors extends ClientCommand {
    @Option(names = "--long", description = "Also ID, host IP and disk")
    boolean wide;

    @Override
    int run(ApiClient api) {
      List<JsonObject> l = new ArrayList<>();
      for (Object o :
          api.send("GET", "/os-hypervisors/detail", null, "2.53").getJsonArray("hypervisors")) {
        l.add((JsonObject) o);
      }
      Output.list(out, output, wide, HYPERVISORS, l);
      return 0;
    }
  }

  static final List<Column> DRAIN_SERVERS =
      List.of(
          Column.of("Server", s -> s.getString("name")),
          Column.of("State", s -> s.getString("state")),
          Column.of("Attempts", s -> s.getInteger("attempts")),
          Column.human("Destination", s -> s.getString("dest_compute"), Output::blank),
          Column.human("Reason", s -> s.getString("reason"), Output::blank));

  /**
   * Server-side drain: the conductor moves every instance off the host (within the outbound
   * limits), retries failures and reports; {@code --wait} follows it to the end.
   */
  @Command(
      name = "drain",
      description = "Live-migrate every instance off a host (server side), disabling it first.")
  static final class Drain extends ClientCommand {
    @Parameters(paramLabel = "HOST", description = "Host")
    String host;

    @Option(names = "--target-host", paramLabel = "HOST", description = "Send everything here")
    String target;

    @Option(names = "--block-migration", description = "Copy local disks too")
    boolean block;

    @Option(
        names = "--max-retries",
        paramLabel = "N",
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
      if (output.format == Format.json) {
        out.println(d.encodePrettily());
        return;
      }
      if (output.format == Format.table) {
        out.printf(
            "drain %s of %s: %s, %d of %d moved, %d failed, %.1f s%n",
            d.getString("id"),
            d.getString("host"),
            d.getString("status"),
            d.getInteger("completed"),
            d.getInteger("total"),
            d.getInteger("failed"),
            d.getDouble("elapsed_seconds"));
      }
      List<JsonObject> l = new ArrayList<>();
      for (Object o : d.getJsonArray("servers")) l.add((JsonObject) o);
      Output.list(out, output, false, DRAIN_SERVERS, l);
    }
  }
}
