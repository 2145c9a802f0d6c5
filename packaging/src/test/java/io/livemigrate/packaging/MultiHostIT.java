package io.livemigrate.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.packaging.DocBlocks.Block;
import io.livemigrate.packaging.DocBlocks.Kind;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Issue 14's first acceptance, over a real network: a controller in a network namespace of its own
 * (10.77.88.10 on the testbed's bridge) with PRIVATE PostgreSQL and RabbitMQ servers listening on
 * that address, and a compute agent in the network namespace of each libvirt host of the two-host
 * testbed (lm-hostb, lm-hostc). Everything is installed from the built .deb files (into the root
 * filesystem, which the namespaces share) by the {@code multi-host} blocks of docs/operations.md,
 * run as written; where the guide says {@code systemctl enable --now UNIT}, the test starts the
 * installed unit's {@code ExecStart} as its {@code User}, with its {@code EnvironmentFile} and
 * {@code Environment}, output appended to its {@code StandardOutput} file (there is no systemd
 * here; the unit's sandboxing directives are not applied). A testbed guest is live-migrated between
 * the two libvirt hosts through the API, the controller's services are restarted (SIGTERM, then
 * their command lines again), and the migration list is intact.
 *
 * <p>Because both compute "hosts" share one root filesystem, what would differ in each host's own
 * compute.conf comes from that agent's environment: its host name, its libvirt URI (the testbed's
 * libvirtd listens on TCP), the destination addresses and its journal directory.
 *
 * <p>Needs root and the testbed (deploy/testbed/testbed.sh install, which .ci/run runs); run under
 * {@code flock /tmp/lm-testbed.lock}, as the whole suite is.
 */
class MultiHostIT {
  static final Artifacts A = Artifacts.get();
  static final Path TESTBED = A.root().resolve("deploy/testbed/testbed.sh");
  static final String CTL_NS = "lm-ctl";
  static final String CTL_IP = "10.77.88.10";
  static final String GUEST = "lm-mh";
  static final Map<String, String> COMPUTES = Map.of("hostb", "10.77.88.2", "hostc", "10.77.88.3");

  final List<Process> services = new ArrayList<>();
  final Map<String, Process> byUnit = new LinkedHashMap<>();
  Path work;
  Path sessions;
  Map<String, String> site;

  static void requirePrerequisites() throws Exception {
    String missing = null;
    if (!"root".equals(System.getProperty("user.name"))) missing = "root";
    else if (!Files.exists(Path.of("/usr/sbin/libvirtd")))
      missing = "libvirtd (testbed.sh install)";
    else if (!Files.exists(Path.of("/usr/lib/postgresql/15/bin/initdb"))) missing = "PostgreSQL 15";
    else if (!Files.exists(Path.of("/usr/sbin/rabbitmq-server"))) missing = "rabbitmq-server";
    else if (!Sh.which("dpkg") || !Sh.which("setpriv")) missing = "dpkg and setpriv";
    if (missing == null) return;
    if ("true".equals(System.getenv("CI"))) Assertions.fail("the multi-host test needs " + missing);
    Assumptions.abort("the multi-host test needs " + missing);
  }

  @Test
  void installFromPackagesMigrateBetweenHostsRestartTheController() throws Exception {
    requirePrerequisites();
    work = Files.createTempDirectory("lm-multihost");
    sessions = Files.createDirectory(work.resolve("sessions"));
    // The packages of this build only, as an operator copies them to a host.
    Path debs = Files.createDirectory(work.resolve("debs"));
    for (String p : List.of("common", "controller", "compute")) {
      Files.copy(A.deb(p), debs.resolve(A.deb(p).getFileName()));
    }
    site =
        Map.of(
            "CONTROLLER_IP",
            CTL_IP,
            "RABBIT_PASSWORD",
            HexFormat.of().formatHex(random(12)),
            "DB_PASSWORD",
            HexFormat.of().formatHex(random(12)),
            "SERVER",
            GUEST);
    long t0 = System.nanoTime();
    try {
      testbed("up");
      testbed("guest", GUEST, "--rate", "2", "--ws", "16");
      assertEquals("hostb", testbed("where", GUEST).trim());
      controllerNamespace();
      Path pgSocket = privatePostgres();
      privateRabbitMq();
      System.out.printf("testbed, controller namespace, PostgreSQL, RabbitMQ: %d s%n", secs(t0));

      for (Block b : DocBlocks.read(A.root().resolve("docs/operations.md")).blocks()) {
        if (b.kind() == Kind.MULTI_HOST && b.where().equals("controller")) {
          if (b.text().contains("migrate \"$SERVER\"")) awaitComputes();
          runBlock("controller", b, debs, ctlShell(pgSocket));
        } else if (b.kind() == Kind.MULTI_HOST) {
          for (String h : COMPUTES.keySet()) runBlock(h, b, debs, computeShell(h));
        } else if (b.kind() == Kind.SKIP && b.text().contains("systemctl enable --now")) {
          Matcher m = Pattern.compile("systemctl enable --now ([\\w -]+)").matcher(b.text());
          assertTrue(m.find(), b.label());
          for (String unit : m.group(1).trim().split("\\s+")) startUnit(unit);
        }
      }
      System.out.printf("installed, configured, started, migrated: %d s%n", secs(t0));
      assertEquals("hostc", testbed("where", GUEST).trim(), "the guest runs on hostc now");
      String before = migrations();
      assertTrue(
          before.contains("\"Source\" : \"hostb\"") && before.contains("\"Dest\" : \"hostc\""),
          before);
      assertTrue(before.contains("\"Status\" : \"completed\""), before);

      // The controller restarted: both services stop on SIGTERM and start again from their units.
      for (String unit : List.of("livemigrate-conductor", "livemigrate-scheduler")) {
        Process p = byUnit.get(unit);
        p.toHandle().destroy();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), unit + " stops on SIGTERM");
        assertEquals(0, p.exitValue(), unit + " stopped cleanly");
        startUnit(unit);
      }
      String after = migrations();
      assertEquals(
          before.replaceAll("\"Duration\" : \\d+", ""),
          after.replaceAll("\"Duration\" : \\d+", ""),
          "the migration list is intact");
      System.out.printf("controller restarted, migration list intact: %d s in all%n", secs(t0));
    } finally {
      for (Process p : services) {
        p.toHandle().destroy();
        if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly();
      }
      Sh.run("ip", "netns", "pids", CTL_NS)
          .lines()
          .filter(s -> !s.isBlank())
          .forEach(
              pid -> {
                try {
                  Sh.run("kill", "-9", pid.trim());
                } catch (Exception e) {
                  // gone
                }
              });
      Sh.run("ip", "netns", "delete", CTL_NS);
      Sh.run("ip", "link", "delete", "vlm-ctl");
      saveLogs();
      testbed("down");
      Sh.run(
          "dpkg", "--purge", "livemigrate-compute", "livemigrate-controller", "livemigrate-common");
    }
  }

  static byte[] random(int n) {
    byte[] b = new byte[n];
    ThreadLocalRandom.current().nextBytes(b);
    return b;
  }

  static long secs(long t0) {
    return (System.nanoTime() - t0) / 1_000_000_000L;
  }

  static String testbed(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(TESTBED.toString()));
    cmd.addAll(List.of(args));
    Sh.Result r = Sh.exec(cmd, 600);
    if (r.exit() != 0) throw new AssertionError("testbed " + List.of(args) + ":\n" + r.output());
    // testbed.sh logs on stderr; its answer (e.g. `where`) is the last line.
    List<String> lines = r.output().lines().filter(l -> !l.startsWith("testbed: ")).toList();
    return String.join("\n", lines);
  }

  // ------------------------------------------------------------------ the controller's host

  void controllerNamespace() throws Exception {
    Sh.run("ip", "netns", "delete", CTL_NS);
    Sh.run("ip", "link", "delete", "vlm-ctl");
    Sh.out("ip", "netns", "add", CTL_NS);
    Sh.out("ip", "link", "add", "vlm-ctl", "type", "veth", "peer", "name", "eth0", "netns", CTL_NS);
    Sh.out("ip", "link", "set", "vlm-ctl", "master", "br-lmtb", "up");
    Sh.out("ip", "-n", CTL_NS, "addr", "add", CTL_IP + "/24", "dev", "eth0");
    Sh.out("ip", "-n", CTL_NS, "link", "set", "eth0", "up");
    Sh.out("ip", "-n", CTL_NS, "link", "set", "lo", "up");
  }

  /** A PostgreSQL cluster of this test's, on the controller's address; returns its socket dir. */
  Path privatePostgres() throws Exception {
    Path dir = work.resolve("pg");
    Path data = dir.resolve("data");
    Path sock = dir.resolve("sock");
    Files.createDirectories(sock);
    Sh.out("chown", "-R", "postgres:postgres", dir.toString());
    Sh.out("chmod", "755", work.toString());
    Sh.out(
        "runuser",
        "-u",
        "postgres",
        "--",
        "/usr/lib/postgresql/15/bin/initdb",
        "-D",
        data.toString(),
        "--auth-local=peer",
        "--auth-host=scram-sha-256",
        "-U",
        "postgres");
    Files.writeString(
        data.resolve("pg_hba.conf"),
        "local all all peer\nhost all all 10.77.88.0/24 scram-sha-256\n");
    Sh.out(
        "ip",
        "netns",
        "exec",
        CTL_NS,
        "runuser",
        "-u",
        "postgres",
        "--",
        "/usr/lib/postgresql/15/bin/pg_ctl",
        "-D",
        data.toString(),
        "-l",
        dir.resolve("log").toString(),
        "-w",
        "-o",
        "-c listen_addresses=" + CTL_IP + " -c port=5432 -c unix_socket_directories=" + sock,
        "start");
    return sock;
  }

  /** A RabbitMQ node of this test's, on the controller's address (its own epmd, in the netns). */
  void privateRabbitMq() throws Exception {
    Path dir = Files.createDirectories(work.resolve("rabbitmq"));
    Path conf = dir.resolve("rabbitmq.conf");
    Files.writeString(conf, "listeners.tcp.1 = " + CTL_IP + ":5672\n");
    Files.writeString(dir.resolve("enabled_plugins"), "[].\n");
    // Debian's rabbitmq-server and rabbitmqctl run as user rabbitmq (with its cookie).
    Sh.out("chown", "-R", "rabbitmq:rabbitmq", dir.toString());
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "ip",
                "netns",
                "exec",
                CTL_NS,
                "env",
                "RABBITMQ_CONFIG_FILE=" + conf,
                "RABBITMQ_ENABLED_PLUGINS_FILE=" + dir.resolve("enabled_plugins"),
                "RABBITMQ_MNESIA_BASE=" + dir.resolve("mnesia"),
                "RABBITMQ_LOG_BASE=" + dir.resolve("log"),
                "RABBITMQ_PID_FILE=" + dir.resolve("pid"),
                "ERL_CRASH_DUMP=" + dir.resolve("erl_crash.dump"),
                "rabbitmq-server",
                "-detached"));
    Sh.out(cmd.toArray(String[]::new));
    Sh.Result r =
        Sh.exec(
            List.of(
                "ip",
                "netns",
                "exec",
                CTL_NS,
                "env",
                "RABBITMQ_PID_FILE=" + dir.resolve("pid"),
                "rabbitmqctl",
                "wait",
                "--timeout",
                "120",
                dir.resolve("pid").toString()),
            180);
    assertEquals(0, r.exit(), "private RabbitMQ did not start:\n" + r.output());
  }

  /** The controller's shell: its namespace, with the private cluster's socket where psql looks. */
  List<String> ctlShell(Path pgSocket) {
    return List.of(
        "ip",
        "netns",
        "exec",
        CTL_NS,
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        "mount --bind " + pgSocket + " /run/postgresql && exec bash \"$0\"");
  }

  List<String> computeShell(String host) {
    return List.of("ip", "netns", "exec", "lm-" + host, "bash");
  }

  /** What a compute host's own compute.conf would say; here its agent's environment. */
  static Map<String, String> computeEnv(String host) {
    return Map.of(
        "LIVEMIGRATE_DEFAULT__HOST",
        host,
        "LIVEMIGRATE_LIBVIRT__CONNECTION_URI",
        "qemu+tcp://" + COMPUTES.get(host) + "/system",
        "LIVEMIGRATE_LIBVIRT__LIVE_MIGRATION_INBOUND_ADDRS",
        "hostb=10.77.88.2,hostc=10.77.88.3",
        "LIVEMIGRATE_COMPUTE__STATE_DIR",
        "/var/lib/livemigrate/compute-" + host,
        "LIVEMIGRATE_LIBVIRT__VIRT_TYPE",
        VIRT_TYPE);
  }

  /**
   * What the testbed's guests run on (testbed.sh makes the same choice): KVM where this machine has
   * it, else QEMU's TCG. A compute host without KVM says {@code virt_type = qemu}, as in Nova; with
   * the default (kvm), libvirt reports the guests' CPU models unusable and the scheduler rightly
   * refuses the host.
   */
  static final String VIRT_TYPE = kvm() ? "kvm" : "qemu";

  private static boolean kvm() {
    try {
      return Files.isWritable(Path.of("/dev/kvm"))
          && Files.readString(Path.of("/proc/cpuinfo")).matches("(?s).*\\b(vmx|svm)\\b.*");
    } catch (java.io.IOException e) {
      return false;
    }
  }

  /**
   * Runs a documented block as written, in {@code shell}, in the block's host session: the
   * variables it exports stay for that host's next blocks, as in an operator's terminal.
   */
  void runBlock(String session, Block b, Path debs, List<String> shell) throws Exception {
    Path state = sessions.resolve(session + ".env");
    Path script = work.resolve("block.sh");
    Files.writeString(
        script,
        "[ -f "
            + state
            + " ] && . "
            + state
            + "\nset -euo pipefail\n"
            + b.text()
            + "\nexport -p | grep -v ' SHLVL=\\| PWD=\\| OLDPWD=\\| _=' > "
            + state
            + "\n");
    List<String> cmd = new ArrayList<>(shell);
    cmd.add(script.toString());
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(debs.toFile()).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("OS_") || k.startsWith("LIVEMIGRATE_"));
    pb.environment().putAll(site);
    pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
    if (COMPUTES.containsKey(session)) pb.environment().putAll(computeEnv(session));
    Process p = pb.start();
    String out;
    try (var in = p.getInputStream()) {
      out = new String(in.readAllBytes());
    }
    assertTrue(p.waitFor(10, TimeUnit.MINUTES), b.label() + " hung");
    Files.writeString(
        work.resolve("blocks.log"),
        "### " + session + " " + b.label() + "\n" + out,
        java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.APPEND);
    assertEquals(
        0, p.exitValue(), session + ": " + b.label() + " failed:\n" + b.text() + "\n---\n" + out);
    System.out.println("ran " + b.label() + " on " + session);
  }

  // ------------------------------------------------------------------ units

  /** The installed unit's directives (the last value of each key). */
  static Map<String, List<String>> unit(String name) throws Exception {
    Map<String, List<String>> m = new LinkedHashMap<>();
    for (String line : Files.readAllLines(Path.of("/lib/systemd/system", name + ".service"))) {
      if (line.isBlank() || line.startsWith("#") || line.startsWith("[")) continue;
      int eq = line.indexOf('=');
      m.computeIfAbsent(line.substring(0, eq), k -> new ArrayList<>()).add(line.substring(eq + 1));
    }
    return m;
  }

  /** Starts the unit as systemd would (its user, environment, command line and log), per host. */
  void startUnit(String name) throws Exception {
    Map<String, List<String>> u = unit(name);
    boolean compute = name.equals("livemigrate-compute-agent");
    for (String host : compute ? List.copyOf(COMPUTES.keySet()) : List.of("controller")) {
      Map<String, String> env = new LinkedHashMap<>();
      env.put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
      env.put("LANG", "C.UTF-8");
      env.put("HOME", "/var/lib/livemigrate");
      for (String e : u.getOrDefault("Environment", List.of()))
        env.put(e.substring(0, e.indexOf('=')), e.substring(e.indexOf('=') + 1));
      for (String f : u.getOrDefault("EnvironmentFile", List.of())) {
        Path file = Path.of(f.startsWith("-") ? f.substring(1) : f);
        if (!Files.exists(file)) continue;
        for (String line : Files.readAllLines(file)) {
          if (line.isBlank() || line.trim().startsWith("#") || !line.contains("=")) continue;
          env.put(
              line.substring(0, line.indexOf('=')).trim(),
              line.substring(line.indexOf('=') + 1).trim());
        }
      }
      if (compute) env.putAll(computeEnv(host));
      String user = u.get("User").get(0);
      String group = u.get("Group").get(0);
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  "ip",
                  "netns",
                  "exec",
                  compute ? "lm-" + host : CTL_NS,
                  "setpriv",
                  "--reuid=" + user,
                  "--regid=" + group,
                  "--init-groups",
                  "--",
                  "env",
                  "-i"));
      env.forEach((k, v) -> cmd.add(k + "=" + v));
      cmd.addAll(List.of(u.get("ExecStart").get(0).split("\\s+")));
      String out = u.get("StandardOutput").get(0);
      assertTrue(out.startsWith("append:"), out);
      Path log = Path.of(out.substring("append:".length()) + (compute ? "." + host : ""));
      ProcessBuilder pb =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
      long offset = Files.exists(log) ? Files.size(log) : 0;
      Process p = pb.start();
      services.add(p);
      byUnit.put(name, p);
      String ready =
          compute
              ? "compute-agent " + host + ": "
              : name.endsWith("conductor") ? "conductor: API on port" : "scheduler: metrics on";
      long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
      while (true) {
        String text = Files.readString(log).substring((int) offset);
        if (text.contains(ready)) break;
        if (!p.isAlive() || System.nanoTime() > end) {
          throw new AssertionError(
              name
                  + " on "
                  + host
                  + " did not start (exit "
                  + (p.isAlive() ? "-" : p.exitValue())
                  + "):\n"
                  + text);
        }
        Thread.sleep(200);
      }
      System.out.println("started " + name + " on " + host + " as " + user + " from its unit");
    }
  }

  // ------------------------------------------------------------------ the API

  static String token() throws Exception {
    for (String l : Files.readAllLines(Path.of("/etc/livemigrate/environment"))) {
      if (l.startsWith("LIVEMIGRATE_ADMIN_TOKEN=")) return l.substring(l.indexOf('=') + 1).trim();
    }
    throw new AssertionError("no admin token in /etc/livemigrate/environment");
  }

  static String api(String path) throws Exception {
    HttpResponse<String> r =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .build()
            .send(
                HttpRequest.newBuilder(URI.create("http://" + CTL_IP + ":8774/v2.1" + path))
                    .header("X-Auth-Token", token())
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    return r.statusCode() + " " + r.body();
  }

  /** Both agents up and the guest reported, before the guide's migration (a person would look). */
  static void awaitComputes() throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    String last = "";
    while (System.nanoTime() < end) {
      String s = api("/servers/detail");
      String h = api("/os-hypervisors");
      last = s + "\n" + h;
      if (s.contains("\"name\":\"" + GUEST + "\"")
          && h.contains("hostb")
          && h.contains("hostc")
          && !h.contains("\"down\"")) return;
      Thread.sleep(500);
    }
    throw new AssertionError("computes did not report the guest:\n" + last);
  }

  /** The migration list as the CLI prints it, from the controller's namespace. */
  String migrations() throws Exception {
    Sh.Result r =
        Sh.exec(
            List.of(
                "ip",
                "netns",
                "exec",
                CTL_NS,
                "env",
                "OS_ENDPOINT=http://" + CTL_IP + ":8774/v2.1",
                "OS_TOKEN=" + token(),
                "livemigrate",
                "migration",
                "list",
                "-f",
                "json",
                "-c",
                "Id",
                "-c",
                "Server",
                "-c",
                "Source",
                "-c",
                "Dest",
                "-c",
                "Status",
                "-c",
                "Reason",
                "-c",
                "Downtime"),
            60);
    assertEquals(0, r.exit(), r.output());
    return r.output();
  }

  void saveLogs() {
    try {
      Path out = Path.of("target", "multihost-logs");
      Files.createDirectories(out);
      for (File f :
          new File("/var/log/livemigrate").listFiles() == null
              ? new File[0]
              : new File("/var/log/livemigrate").listFiles()) {
        Files.copy(
            f.toPath(),
            out.resolve(f.getName()),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
      if (Files.exists(work.resolve("blocks.log")))
        Files.copy(
            work.resolve("blocks.log"),
            out.resolve("blocks.log"),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      Path rl = work.resolve("rabbitmq/log");
      if (Files.isDirectory(rl)) {
        for (File f : rl.toFile().listFiles())
          Files.copy(
              f.toPath(),
              out.resolve("rabbitmq-" + f.getName()),
              java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
      if (Files.exists(work.resolve("pg/log")))
        Files.copy(
            work.resolve("pg/log"),
            out.resolve("postgresql.log"),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (Exception e) {
      System.out.println("could not save logs: " + e);
    }
  }
}
