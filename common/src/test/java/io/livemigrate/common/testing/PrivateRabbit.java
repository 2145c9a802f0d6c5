package io.livemigrate.common.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A RabbitMQ node of this test's own (the real server, a separate Erlang VM): its own node name,
 * ports, Erlang cookie, database and log, under {@code /tmp/livemigrate-private-rabbit/<name>}.
 * Tests that restart the broker, close its connections, change users or listen with TLS use one,
 * never the shared server on 5672.
 *
 * <p>Ports are picked free at start ({@link #freePorts}): fixed ones clash with other private nodes
 * on the same machine (another test class, another checkout's build). A node of the same name left
 * over by a killed run is stopped first.
 */
public final class PrivateRabbit implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PrivateRabbit.class);
  private static final Path BIN = Path.of("/usr/lib/rabbitmq/bin");
  private static final Path BASE = Path.of("/tmp/livemigrate-private-rabbit");

  /** TLS listener settings: the server's certificate, key and the CA for client certificates. */
  public record Tls(
      int port, Path certFile, Path keyFile, Path caFile, boolean requireClientCert) {}

  private final String name;
  private final int port;
  private final int distPort;
  private final Tls tls;
  private final Path dir;

  private PrivateRabbit(String name, int port, int distPort, Tls tls, Path dir) {
    this.name = name;
    this.port = port;
    this.distPort = distPort;
    this.tls = tls;
    this.dir = dir;
  }

  /** Whether the RabbitMQ server is installed here (CI installs it; elsewhere a test may skip). */
  public static boolean available() {
    return Files.isExecutable(BIN.resolve("rabbitmq-server"));
  }

  /**
   * Ports nothing listens on now, all different: the sockets are held open together, so one call
   * never hands out the same port twice.
   */
  public static int[] freePorts(int n) throws IOException {
    List<ServerSocket> held = new ArrayList<>();
    try {
      int[] ports = new int[n];
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        held.add(s);
        ports[i] = s.getLocalPort();
      }
      return ports;
    } finally {
      for (ServerSocket s : held) s.close();
    }
  }

  /** As {@link #start(String, int, int, Tls)} without TLS, on free ports. */
  public static PrivateRabbit start(String name) throws Exception {
    int[] ports = freePorts(2);
    return start(name, ports[0], ports[1], null);
  }

  /**
   * Starts a node and waits until it accepts AMQP connections.
   *
   * @param name node name (without {@code @localhost}) and directory name
   * @param tls a TLS listener as well, or null
   */
  public static PrivateRabbit start(String name, int port, int distPort, Tls tls) throws Exception {
    Path dir = BASE.resolve(name);
    PrivateRabbit r = new PrivateRabbit(name, port, distPort, tls, dir);
    if (Files.exists(dir.resolve("home/.erlang.cookie"))) {
      // A node of a killed run: stop it (it has our cookie), then start afresh. shutdown, not
      // stop: it listened on other ports than ours, so only waiting for its process tells that
      // it is gone.
      r.ctl(Duration.ofSeconds(30), "shutdown");
      r.waitUntilDown();
    }
    deleteTree(dir);
    Files.createDirectories(dir.resolve("home"));
    Path cookie = dir.resolve("home/.erlang.cookie");
    byte[] b = new byte[20];
    new SecureRandom().nextBytes(b);
    Files.writeString(cookie, HexFormat.of().formatHex(b).toUpperCase());
    Files.setPosixFilePermissions(cookie, PosixFilePermissions.fromString("r--------"));
    List<String> conf = new ArrayList<>();
    conf.add("listeners.tcp.1 = 127.0.0.1:" + port);
    conf.add("loopback_users = none");
    conf.add("disk_free_limit.absolute = 50MB");
    conf.add("log.file.level = info");
    if (tls != null) {
      conf.add("listeners.ssl.1 = 127.0.0.1:" + tls.port());
      conf.add("ssl_options.cacertfile = " + tls.caFile());
      conf.add("ssl_options.certfile = " + tls.certFile());
      conf.add("ssl_options.keyfile = " + tls.keyFile());
      conf.add("ssl_options.verify = verify_peer");
      conf.add("ssl_options.fail_if_no_peer_cert = " + tls.requireClientCert());
    }
    Files.write(dir.resolve("rabbitmq.conf"), conf);
    Files.writeString(dir.resolve("enabled_plugins"), "[].");
    r.launch();
    return r;
  }

  private Map<String, String> env() {
    return Map.ofEntries(
        Map.entry("HOME", dir.resolve("home").toString()),
        Map.entry("RABBITMQ_NODENAME", node()),
        Map.entry("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1"),
        Map.entry("RABBITMQ_NODE_PORT", Integer.toString(port)),
        Map.entry("RABBITMQ_DIST_PORT", Integer.toString(distPort)),
        Map.entry("ERL_EPMD_ADDRESS", "127.0.0.1"),
        Map.entry("RABBITMQ_MNESIA_BASE", dir.resolve("mnesia").toString()),
        Map.entry("RABBITMQ_LOG_BASE", dir.resolve("log").toString()),
        Map.entry("RABBITMQ_PID_FILE", dir.resolve("pid").toString()),
        Map.entry("RABBITMQ_CONFIG_FILE", dir.resolve("rabbitmq.conf").toString()),
        Map.entry("RABBITMQ_ENABLED_PLUGINS_FILE", dir.resolve("enabled_plugins").toString()),
        Map.entry("RABBITMQ_CONF_ENV_FILE", "/dev/null"),
        Map.entry(
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}"));
  }

  private void launch() throws Exception {
    long t0 = System.nanoTime();
    ProcessBuilder pb = new ProcessBuilder(BIN.resolve("rabbitmq-server").toString(), "-detached");
    pb.environment().putAll(env());
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("server.out").toFile()));
    Process p = pb.start();
    p.waitFor(60, TimeUnit.SECONDS);
    Result w =
        ctl(Duration.ofSeconds(90), "wait", dir.resolve("pid").toString(), "--timeout", "80");
    if (w.code() != 0 || !portOpen(port)) {
      throw new IllegalStateException(
          "private RabbitMQ " + node() + " did not start: " + w.output() + "\n" + logTail());
    }
    LOG.info(
        "private RabbitMQ {} up on 127.0.0.1:{}{} in {} ms",
        node(),
        port,
        tls == null ? "" : " (AMQPS :" + tls.port() + ")",
        (System.nanoTime() - t0) / 1_000_000);
  }

  public String node() {
    return name + "@localhost";
  }

  public int port() {
    return port;
  }

  public Tls tls() {
    return tls;
  }

  /** A URL logging in as {@code user} to {@code vhost} (null = the default vhost). */
  public String url(String user, String password, String vhost) {
    return "amqp://"
        + user
        + ":"
        + password
        + "@127.0.0.1:"
        + port
        + (vhost == null ? "" : "/" + java.net.URLEncoder.encode(vhost, StandardCharsets.UTF_8));
  }

  /** The administrator's URL ({@code guest} may log in from loopback). */
  public String guestUrl() {
    return url("guest", "guest", null);
  }

  /** The {@code rabbitmqctl} invocation prefix for this node (for {@code setup rabbitmq}). */
  public List<String> rabbitmqctl() {
    return List.of(
        BIN.resolve("rabbitmqctl").toString(), "-q", "-n", node(), "--erlang-cookie", cookie());
  }

  private String cookie() {
    try {
      return Files.readString(dir.resolve("home/.erlang.cookie")).trim();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A finished {@code rabbitmqctl} call. */
  public record Result(int code, String output) {}

  /** Runs {@code rabbitmqctl} against this node. */
  public Result ctl(String... args) {
    return ctl(Duration.ofSeconds(60), args);
  }

  public Result ctl(Duration timeout, String... args) {
    return ctlWithInput(timeout, null, args);
  }

  public Result ctlWithInput(Duration timeout, String stdin, String... args) {
    List<String> cmd = new ArrayList<>(rabbitmqctl());
    cmd.addAll(List.of(args));
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.environment().put("HOME", dir.resolve("home").toString());
      pb.redirectErrorStream(true);
      Process p = pb.start();
      if (stdin != null) p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
      p.getOutputStream().close();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        return new Result(-1, "rabbitmqctl " + String.join(" ", args) + " timed out");
      }
      return new Result(
          p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      return new Result(-1, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, e.toString());
    }
  }

  /** Runs {@code rabbitmqctl} and fails the test unless it succeeds. */
  public String ctlOk(String... args) {
    Result r = ctl(args);
    if (r.code() != 0) {
      throw new AssertionError("rabbitmqctl " + String.join(" ", args) + ": " + r.output());
    }
    return r.output();
  }

  /** Closes every client connection, as {@code rabbitmqctl close_all_connections} does. */
  public void closeAllConnections() {
    ctlOk("close_all_connections", "fault test");
  }

  /** Stops the node (the Erlang VM) and starts it again on the same database. */
  public long restart() throws Exception {
    long t0 = System.nanoTime();
    Result r = ctl(Duration.ofSeconds(60), "stop");
    if (r.code() != 0) throw new AssertionError("rabbitmqctl stop: " + r.output());
    waitUntilDown();
    launch();
    return (System.nanoTime() - t0) / 1_000_000;
  }

  private void waitUntilDown() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (portOpen(port) || tls != null && portOpen(tls.port())) {
      if (System.nanoTime() > deadline) throw new IllegalStateException(node() + " did not stop");
      Thread.sleep(100);
    }
    // The Erlang VM may outlive its listeners by a moment; the distribution port must be free too.
    while (portOpen(distPort) && System.nanoTime() < deadline) Thread.sleep(100);
  }

  private static boolean portOpen(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The node's log (e.g. to look for channel errors), or "" when there is none yet. */
  public String log() {
    Path p = dir.resolve("log").resolve(node() + ".log");
    try {
      return Files.exists(p) ? Files.readString(p) : "";
    } catch (IOException e) {
      return "";
    }
  }

  private String logTail() {
    List<String> lines = log().lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }

  @Override
  public void close() throws Exception {
    Result r = ctl(Duration.ofSeconds(60), "stop");
    if (r.code() != 0) LOG.warn("stopping {}: {}", node(), r.output());
    waitUntilDown();
    // The node's log outlives it, next to the test's own (for a failure on CI).
    Path target = Path.of("target");
    if (Files.isDirectory(target)) {
      Files.writeString(target.resolve("private-rabbit-" + name + ".log"), log());
    }
    deleteTree(dir);
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) return;
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
