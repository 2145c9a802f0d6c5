package io.livemigrate.cli;

import io.livemigrate.common.config.Config.ConfigException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import sun.misc.Signal;

/**
 * How a long-running command starts and stops: ports checked before anything binds, a failure as
 * one line (no stack trace for what the operator must fix), and SIGINT/SIGTERM as an orderly stop.
 *
 * <p>Why signal handlers and not only a shutdown hook: the embedded broker (Qpid Broker-J)
 * registers a shutdown hook of its own, and the JVM runs all hooks at once, so the broker closed
 * under the services' feet and every client logged a reconnect failure with a stack trace. A
 * handler stops the services first, then the broker, then exits.
 */
final class Lifecycle {
  private Lifecycle() {}

  /** Exit status for an unusable configuration (sysexits' EX_CONFIG); the units do not restart. */
  static final int EXIT_CONFIG = 78;

  /** Exit status when a port is taken (sysexits' EX_TEMPFAIL: a restart may succeed later). */
  static final int EXIT_PORT_IN_USE = 75;

  /** A start-up failure the operator fixes, shown as one line without a stack trace. */
  static final class StartupFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int exitCode;

    StartupFailure(int exitCode, String message) {
      super(message, null, false, false);
      this.exitCode = exitCode;
    }
  }

  /**
   * A port a service will listen on.
   *
   * @param what how the operator knows it, e.g. {@code "API ([api] port)"}
   */
  record PortUse(String what, String address, int port) {}

  /**
   * Fails with one line naming the port and the service when one of {@code ports} is taken. Port 0
   * (any free port) is skipped.
   *
   * @throws StartupFailure with {@link #EXIT_PORT_IN_USE}
   */
  static void checkPorts(String service, List<PortUse> ports) {
    for (PortUse p : ports) {
      if (p.port() == 0) continue;
      try (ServerSocket s = new ServerSocket()) {
        // As Vert.x binds: SO_REUSEADDR, so a socket in TIME_WAIT is no conflict; a listener is.
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(p.address(), p.port()));
      } catch (BindException e) {
        throw portInUse(service, p);
      } catch (IOException e) {
        throw new StartupFailure(
            EXIT_PORT_IN_USE,
            "livemigrate "
                + service
                + ": cannot listen on "
                + p.address()
                + ":"
                + p.port()
                + " for its "
                + p.what()
                + ": "
                + e.getMessage());
      }
    }
  }

  static StartupFailure portInUse(String service, PortUse p) {
    return new StartupFailure(
        EXIT_PORT_IN_USE,
        "livemigrate "
            + service
            + ": port "
            + p.port()
            + " on "
            + p.address()
            + " for its "
            + p.what()
            + " is already in use by another process; stop it or choose another port");
  }

  /**
   * The one line an exception that ends a command becomes, or null when it deserves its stack trace
   * (a bug, not something the operator set up).
   */
  static String oneLine(String service, Throwable t, List<PortUse> ports) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof StartupFailure f) return f.getMessage();
      if (c instanceof ConfigException e) {
        return "livemigrate "
            + service
            + ": invalid configuration:\n  "
            + String.join("\n  ", e.problems());
      }
      if (c instanceof BindException) {
        // Taken between the check and the bind: name every candidate.
        StringBuilder b =
            new StringBuilder("livemigrate " + service + ": a port is already in use");
        String sep = " (one of: ";
        for (PortUse p : ports) {
          b.append(sep)
              .append(p.what())
              .append(' ')
              .append(p.address())
              .append(':')
              .append(p.port());
          sep = ", ";
        }
        return ports.isEmpty() ? b.toString() : b.append(')').toString();
      }
    }
    return null;
  }

  static int exitCode(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof StartupFailure f) return f.exitCode;
      if (c instanceof ConfigException) return EXIT_CONFIG;
      if (c instanceof BindException) return EXIT_PORT_IN_USE;
    }
    return 1;
  }

  /**
   * Blocks until SIGINT or SIGTERM, then runs {@code stop} once and returns. A second signal while
   * stopping exits at once. {@code stop} also runs from a shutdown hook if the JVM ends otherwise
   * (e.g. SIGHUP), so nothing is left half-open.
   */
  static void awaitStopSignal(String service, PrintStream log, Runnable stop) {
    CountDownLatch signalled = new CountDownLatch(1);
    AtomicBoolean stopping = new AtomicBoolean();
    Runnable once =
        () -> {
          if (stopping.compareAndSet(false, true)) stop.run();
        };
    for (String name : List.of("INT", "TERM")) {
      try {
        Signal.handle(
            new Signal(name),
            sig -> {
              if (stopping.get()) {
                log.println("livemigrate " + service + ": second SIG" + name + ", exiting now");
                Runtime.getRuntime().halt(128 + sig.getNumber());
              }
              log.println("livemigrate " + service + ": SIG" + name + " received, stopping");
              signalled.countDown();
            });
      } catch (IllegalArgumentException e) {
        // The signal is reserved here (e.g. -Xrs); the shutdown hook still stops cleanly.
      }
    }
    Thread hook = new Thread(once, "livemigrate-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      signalled.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    once.run();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // Already shutting down: the hook ran once.run(), which did nothing the second time.
    }
  }
}
