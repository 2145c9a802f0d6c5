package io.livemigrate.common.broker;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
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
 * the subset both brokers share (research/embedded-amqp.md).
 */
public final class EmbeddedBroker implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedBroker.class);
  public static final String USER = "guest";
  public static final String PASSWORD = "guest";

  private final SystemLauncher launcher;
  private final int port;
  private final Path workDir;

  private EmbeddedBroker(SystemLauncher launcher, int port, Path workDir) {
    this.launcher = launcher;
    this.port = port;
    this.workDir = workDir;
  }

  /**
   * Starts a broker.
   *
   * @param port the AMQP port, or 0 for any free port
   */
  public static EmbeddedBroker start(int port) throws Exception {
    // Qpid halts the JVM on an uncaught housekeeping exception unless a handler exists.
    if (Thread.getDefaultUncaughtExceptionHandler() == null) {
      Thread.setDefaultUncaughtExceptionHandler(
          (t, e) -> LOG.error("uncaught exception in {}", t.getName(), e));
    }
    Path work = Files.createTempDirectory("livemigrate-broker");
    Path config = work.resolve("broker.json");
    try (InputStream in = EmbeddedBroker.class.getResourceAsStream("embedded-broker.json")) {
      if (in == null) throw new IOException("embedded-broker.json missing from the classpath");
      Files.copy(in, config, StandardCopyOption.REPLACE_EXISTING);
    }
    Map<String, String> ctx = new HashMap<>();
    ctx.put("qpid.work_dir", work.toString());
    ctx.put("qpid.amqp_port", Integer.toString(port));
    ctx.put("qpid.user", USER);
    ctx.put("qpid.password", PASSWORD);
    ctx.put("queue.behaviourOnUnknownDeclareArgument", "IGNORE");
    ctx.put("exchange.behaviourOnUnknownDeclareArgument", "IGNORE");
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
              public void onContainerResolve(SystemConfig<?> s) {
                sc.set(s);
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
    int bound =
        broker.getPorts().stream()
            .filter(p -> p.getName().equals("AMQP"))
            .findFirst()
            .map(Port::getBoundPort)
            .orElseThrow();
    LOG.info("embedded AMQP broker listening on 127.0.0.1:{}", bound);
    return new EmbeddedBroker(launcher, bound, work);
  }

  public int port() {
    return port;
  }

  /** The transport URL for clients of this broker. */
  public String url() {
    return "amqp://" + USER + ":" + PASSWORD + "@127.0.0.1:" + port;
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
