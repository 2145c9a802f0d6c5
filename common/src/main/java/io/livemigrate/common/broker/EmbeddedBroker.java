package io.livemigrate.common.broker;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.qpid.server.SystemLauncher;
import org.apache.qpid.server.SystemLauncherListener;
import org.apache.qpid.server.model.Broker;
import org.apache.qpid.server.model.Port;
import org.apache.qpid.server.model.State;
import org.apache.qpid.server.model.SystemConfig;
import org.apache.qpid.server.model.VirtualHostNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An AMQP 0-9-1 broker inside this JVM (Qpid Broker-J, memory store), bound to loopback only. The
 * single-machine default and the fallback test broker. It is not RabbitMQ: the product only uses
 * the subset both brokers share (README, "The bus: identities, delivery and TLS").
 *
 * <p>Like RabbitMQ, it refuses a message whose {@code user_id} is not the publishing connection's
 * user (Qpid's {@code qpid.broker_msg_auth}), so with one user per service the receivers' identity
 * checks run exactly as on RabbitMQ. It has no per-queue permissions: every user may use every
 * queue. Optionally it also listens for AMQPS with a PEM certificate and key.
 */
public final class EmbeddedBroker implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedBroker.class);
  public static final String USER = "guest";
  public static final String PASSWORD = "guest";

  private final SystemLauncher launcher;
  private final int port;
  private final int tlsPort;
  private final Path workDir;
  private final Map<String, String> users;

  /**
   * What to start.
   *
   * @param port the AMQP port, or 0 for any free port
   * @param users login to password; {@code guest}/{@code guest} is always there too
   * @param tlsPort the AMQPS port (0 = any free port), used only with a certificate
   * @param certFile PEM certificate (chain) for AMQPS, or null for no AMQPS
   * @param keyFile PEM (PKCS#8) private key of {@code certFile}
   */
  public record Settings(
      int port, Map<String, String> users, int tlsPort, Path certFile, Path keyFile) {
    public static Settings plain(int port) {
      return new Settings(port, Map.of(), 0, null, null);
    }

    public Settings withUsers(Map<String, String> u) {
      return new Settings(port, u, tlsPort, certFile, keyFile);
    }

    public Settings withTls(Path cert, Path key) {
      return new Settings(port, users, tlsPort, cert, key);
    }
  }

  private EmbeddedBroker(
      SystemLauncher launcher, int port, int tlsPort, Path workDir, Map<String, String> users) {
    this.launcher = launcher;
    this.port = port;
    this.tlsPort = tlsPort;
    this.workDir = workDir;
    this.users = users;
  }

  /**
   * Starts a broker with only the {@code guest} user.
   *
   * @param port the AMQP port, or 0 for any free port
   */
  public static EmbeddedBroker start(int port) throws Exception {
    return start(Settings.plain(port));
  }

  /** A random password for a generated user. */
  public static String newPassword() {
    byte[] b = new byte[18];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  public static EmbeddedBroker start(Settings s) throws Exception {
    // Qpid halts the JVM on an uncaught housekeeping exception unless a handler exists.
    if (Thread.getDefaultUncaughtExceptionHandler() == null) {
      Thread.setDefaultUncaughtExceptionHandler(
          (t, e) -> LOG.error("uncaught exception in {}", t.getName(), e));
    }
    Path work = Files.createTempDirectory("livemigrate-broker");
    Map<String, String> users = new LinkedHashMap<>();
    users.put(USER, PASSWORD);
    users.putAll(s.users());
    Path config = work.resolve("broker.json");
    Files.writeString(config, config(s, users).encodePrettily());
    Map<String, String> ctx = new HashMap<>();
    ctx.put("qpid.work_dir", work.toString());
    ctx.put("queue.behaviourOnUnknownDeclareArgument", "IGNORE");
    ctx.put("exchange.behaviourOnUnknownDeclareArgument", "IGNORE");
    // Refuse a message whose user_id is not the connection's user, as RabbitMQ does.
    ctx.put("qpid.broker_msg_auth", "true");
    Map<String, Object> attrs = new HashMap<>();
    attrs.put(SystemConfig.TYPE, "Memory");
    attrs.put(SystemConfig.INITIAL_CONFIGURATION_LOCATION, config.toUri().toString());
    attrs.put(SystemConfig.STARTUP_LOGGED_TO_SYSTEM_OUT, false);
    attrs.put(SystemConfig.CONTEXT, ctx);
    AtomicReference<SystemConfig<?>> sc = new AtomicReference<>();
    SystemLauncher launcher =
        new SystemLauncher(
            new SystemLauncherListener.DefaultSystemLauncherListener() {
              @Override
              public void onContainerResolve(SystemConfig<?> c) {
                sc.set(c);
              }
            });
    launcher.startup(attrs);
    Broker<?> broker = (Broker<?>) sc.get().getContainer(Broker.class);
    // "Broker ready" is logged even when the virtual host failed; check it ourselves.
    for (VirtualHostNode<?> n : broker.getVirtualHostNodes()) {
      if (n.getState() != State.ACTIVE
          || n.getVirtualHost() == null
          || n.getVirtualHost().getState() != State.ACTIVE) {
        launcher.shutdown();
        throw new IllegalStateException(
            "embedded broker: vhost node " + n.getName() + " " + n.getState());
      }
    }
    int bound = boundPort(broker, "AMQP");
    int tls = s.certFile() == null ? -1 : boundPort(broker, "AMQPS");
    if (tls > 0) {
      LOG.info("embedded AMQP broker listening on 127.0.0.1:{}, AMQPS on :{}", bound, tls);
    } else {
      LOG.info("embedded AMQP broker listening on 127.0.0.1:{}", bound);
    }
    return new EmbeddedBroker(launcher, bound, tls, work, Map.copyOf(users));
  }

  private static int boundPort(Broker<?> broker, String name) {
    return broker.getPorts().stream()
        .filter(p -> p.getName().equals(name))
        .findFirst()
        .map(Port::getBoundPort)
        .orElseThrow(() -> new IllegalStateException("embedded broker: no port " + name));
  }

  /** The broker's initial configuration (Qpid's JSON model). */
  private static JsonObject config(Settings s, Map<String, String> users) {
    JsonArray u = new JsonArray();
    users.forEach(
        (name, pw) ->
            u.add(new JsonObject().put("name", name).put("type", "managed").put("password", pw)));
    JsonArray aliases =
        new JsonArray()
            .add(new JsonObject().put("name", "defaultAlias").put("type", "defaultAlias"))
            .add(new JsonObject().put("name", "nameAlias").put("type", "nameAlias"));
    JsonArray ports =
        new JsonArray()
            .add(
                new JsonObject()
                    .put("name", "AMQP")
                    .put("type", "AMQP")
                    .put("bindingAddress", "127.0.0.1")
                    .put("port", Integer.toString(s.port()))
                    .put("protocols", new JsonArray().add("AMQP_0_9_1"))
                    .put("authenticationProvider", "plain")
                    .put("virtualhostaliases", aliases));
    JsonObject broker =
        new JsonObject()
            .put("name", "livemigrate-embedded")
            .put("modelVersion", "9.1")
            .put(
                "authenticationproviders",
                new JsonArray()
                    .add(
                        new JsonObject()
                            .put("name", "plain")
                            .put("type", "Plain")
                            // PLAIN on the non-TLS port too: loopback only.
                            .put("secureOnlyMechanisms", new JsonArray())
                            .put("users", u)))
            .put("ports", ports)
            .put(
                "virtualhostnodes",
                new JsonArray()
                    .add(
                        new JsonObject()
                            .put("name", "default")
                            .put("defaultVirtualHostNode", "true")
                            .put("type", "Memory")
                            .put("virtualHostInitialConfiguration", "{\"type\": \"Memory\"}")));
    if (s.certFile() != null) {
      broker.put(
          "keystores",
          new JsonArray()
              .add(
                  new JsonObject()
                      .put("name", "pem")
                      .put("type", "NonJavaKeyStore")
                      .put("certificateUrl", s.certFile().toUri().toString())
                      .put("privateKeyUrl", s.keyFile().toUri().toString())));
      ports.add(
          new JsonObject()
              .put("name", "AMQPS")
              .put("type", "AMQP")
              .put("bindingAddress", "127.0.0.1")
              .put("port", Integer.toString(s.tlsPort()))
              .put("transports", new JsonArray().add("SSL"))
              .put("keyStore", "pem")
              .put("protocols", new JsonArray().add("AMQP_0_9_1"))
              .put("authenticationProvider", "plain")
              .put("virtualhostaliases", aliases.copy()));
    }
    return broker;
  }

  public int port() {
    return port;
  }

  /** The AMQPS port, or -1 when the broker has none. */
  public int tlsPort() {
    return tlsPort;
  }

  /** The transport URL for clients of this broker, as {@code guest}. */
  public String url() {
    return url(USER);
  }

  /** The transport URL that logs in as {@code user} (one given at start). */
  public String url(String user) {
    return "amqp://" + userInfo(user) + "@127.0.0.1:" + port;
  }

  /** The AMQPS URL that logs in as {@code user}, for host {@code host} (the certificate's name). */
  public String tlsUrl(String user, String host) {
    if (tlsPort < 0) throw new IllegalStateException("the embedded broker has no AMQPS port");
    return "amqps://" + userInfo(user) + "@" + host + ":" + tlsPort;
  }

  private String userInfo(String user) {
    String pw = users.get(user);
    if (pw == null) throw new IllegalArgumentException("no user " + user + " on the broker");
    return URLEncoder.encode(user, StandardCharsets.UTF_8)
        + ":"
        + URLEncoder.encode(pw, StandardCharsets.UTF_8);
  }

  public List<String> users() {
    return List.copyOf(users.keySet());
  }

  @Override
  public void close() {
    launcher.shutdown();
    try (var files = Files.walk(workDir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      LOG.debug("could not remove {}: {}", workDir, e.toString());
    }
  }
}
