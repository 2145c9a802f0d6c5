package io.livemigrate.cli;

import io.livemigrate.common.broker.EmbeddedBroker;
import io.livemigrate.common.broker.RabbitSetup;
import io.livemigrate.common.bus.Identities;
import io.livemigrate.common.bus.Topology;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code livemigrate setup rabbitmq --hosts HostA,HostB,...}: one RabbitMQ user per service and per
 * compute host, with the permissions and topic permissions of {@link RabbitSetup}, the vhost and
 * the shared topology. Through {@code rabbitmqctl}, which every RabbitMQ installation has (the
 * management plugin need not be enabled); or, with {@code --definitions FILE}, as a definitions
 * file to import ({@code rabbitmqctl import_definitions FILE}, or the management UI).
 *
 * <p>Passwords come from {@code <password-dir>/<user>.password} when that file exists, else they
 * are generated and written there (mode 0600). Running it again with more hosts adds them; an
 * existing user gets its password (from its file) and permissions set again.
 */
@Command(
    name = "setup",
    description = "Set up what the services need outside themselves.",
    subcommands = {
      CommandLine.HelpCommand.class,
      SetupCommand.Rabbitmq.class,
      SetupKeystone.Keystone.class
    })
final class SetupCommand {
  private SetupCommand() {}

  @Command(
      name = "rabbitmq",
      description =
          "Create the RabbitMQ users (conductor, scheduler, compute-<host>), vhost, permissions,"
              + " topic permissions and shared exchanges.")
  static final class Rabbitmq implements Callable<Integer> {
    @Option(
        names = "--hosts",
        required = true,
        split = ",",
        description = "compute hosts, e.g. HostA,HostB")
    List<String> hosts;

    @Option(names = "--vhost", defaultValue = "/", description = "vhost (default ${DEFAULT-VALUE})")
    String vhost;

    @Option(
        names = "--namespace",
        defaultValue = "livemigrate",
        description = "[DEFAULT] bus_namespace (default ${DEFAULT-VALUE})")
    String namespace;

    @Option(
        names = "--identity-prefix",
        defaultValue = "",
        description = "[bus] identity_prefix: prefix of the user names")
    String prefix;

    @Option(
        names = "--password-dir",
        defaultValue = "/etc/livemigrate/rabbitmq",
        description = "where <user>.password files are read or written (default ${DEFAULT-VALUE})")
    Path passwordDir;

    @Option(
        names = "--definitions",
        description =
            "write a definitions file (password hashes only) instead of running rabbitmqctl")
    Path definitions;

    @Option(
        names = "--rabbitmqctl",
        defaultValue = "rabbitmqctl",
        description =
            "the rabbitmqctl command, with e.g. -n rabbit@host (default ${DEFAULT-VALUE})")
    String rabbitmqctl;

    @Option(
        names = "--queue-type",
        defaultValue = "quorum",
        description = "quorum | classic: type of the parked and unroutable queues")
    String queueType;

    @Option(
        names = "--broker",
        defaultValue = "127.0.0.1:5672",
        description = "host:port the services reach the broker at, for the printed URLs")
    String broker;

    @Option(names = "--dry-run", description = "print the rabbitmqctl calls, run nothing")
    boolean dryRun;

    PrintStream out = System.out;
    PrintStream err = System.err;

    @Override
    public Integer call() throws Exception {
      Topology t = new Topology(namespace);
      Identities ids = Identities.of(prefix, true);
      for (String h : hosts) {
        try {
          RabbitSetup.checkHost(h);
        } catch (IllegalArgumentException e) {
          err.println(e.getMessage());
          return 2;
        }
      }
      List<String> names = new ArrayList<>(List.of(ids.conductor(), ids.scheduler()));
      for (String h : hosts) names.add(ids.compute(h));
      Map<String, String> passwords = new LinkedHashMap<>();
      for (String n : names) passwords.put(n, dryRun ? "(from file)" : password(n));
      List<RabbitSetup.User> users = RabbitSetup.users(t, ids, hosts, passwords);

      if (definitions != null) {
        JsonObject d = RabbitSetup.definitions(vhost, users, t, queueType, true);
        Files.writeString(definitions, d.encodePrettily());
        out.println(
            "wrote "
                + definitions
                + "; import it with: rabbitmqctl import_definitions "
                + definitions);
      } else {
        List<String> ctl = List.of(rabbitmqctl.trim().split("\\s+"));
        List<String> existing = dryRun ? List.of() : existingUsers(ctl);
        for (RabbitSetup.Step s : RabbitSetup.rabbitmqctlSteps(vhost, users, existing)) {
          List<String> cmd = new ArrayList<>(ctl);
          cmd.addAll(s.args());
          if (dryRun) {
            out.println(String.join(" ", quoted(cmd)) + (s.stdin() != null ? " < password" : ""));
            continue;
          }
          Run r = run(cmd, s.stdin());
          if (r.code() != 0 && !s.mayFail()) {
            err.println("failed: " + String.join(" ", s.args()) + "\n" + r.output());
            return 1;
          }
        }
        Path topo = Files.createTempFile("livemigrate-topology", ".json");
        try {
          Files.writeString(topo, RabbitSetup.topology(vhost, t, queueType).encodePrettily());
          List<String> cmd = new ArrayList<>(ctl);
          cmd.addAll(List.of("import_definitions", topo.toString()));
          if (dryRun) {
            out.println(
                String.join(" ", quoted(cmd)) + "   # exchanges, parked and unroutable queues");
          } else {
            Run r = run(cmd, null);
            if (r.code() != 0) {
              err.println("failed: import_definitions\n" + r.output());
              return 1;
            }
          }
        } finally {
          Files.deleteIfExists(topo);
        }
      }
      if (!dryRun) {
        out.println("transport_url per service (password in " + passwordDir + "/<user>.password):");
        String v =
            vhost.equals("/") ? "%2F" : java.net.URLEncoder.encode(vhost, StandardCharsets.UTF_8);
        for (String n : names) {
          out.printf("  %-24s amqp://%s:<password>@%s/%s%n", n, n, broker, v);
        }
      }
      return 0;
    }

    private static List<String> quoted(List<String> cmd) {
      List<String> q = new ArrayList<>();
      for (String c : cmd)
        q.add(c.matches("[A-Za-z0-9_./:@=-]+") ? c : "'" + c.replace("'", "'\\''") + "'");
      return q;
    }

    /** The user's password from its file, or a new one written there (0600). */
    private String password(String user) throws IOException {
      Path f = passwordDir.resolve(user + ".password");
      if (Files.exists(f)) {
        String p = Files.readString(f).trim();
        if (!p.isEmpty()) return p;
      }
      Files.createDirectories(passwordDir);
      try {
        Files.setPosixFilePermissions(passwordDir, PosixFilePermissions.fromString("rwx------"));
      } catch (UnsupportedOperationException e) {
        // not a POSIX file system; the file itself is still created below
      }
      String p = EmbeddedBroker.newPassword();
      Path tmp = passwordDir.resolve(user + ".password.tmp");
      Files.deleteIfExists(tmp);
      Files.createFile(
          tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(tmp, p + "\n");
      Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      out.println("generated a password for " + user + " in " + f);
      return p;
    }

    private List<String> existingUsers(List<String> ctl) throws Exception {
      List<String> cmd = new ArrayList<>(ctl);
      cmd.addAll(List.of("list_users", "--no-table-headers"));
      Run r = run(cmd, null);
      if (r.code() != 0) throw new IllegalStateException("rabbitmqctl list_users: " + r.output());
      List<String> users = new ArrayList<>();
      for (String l : r.output().split("\n")) {
        if (!l.isBlank()) users.add(l.split("\t")[0].trim());
      }
      return users;
    }

    record Run(int code, String output) {}

    private static Run run(List<String> cmd, String stdin) throws Exception {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      Process p = pb.start();
      if (stdin != null) p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
      p.getOutputStream().close();
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Run(-1, "timed out");
      }
      return new Run(p.exitValue(), output);
    }
  }
}
