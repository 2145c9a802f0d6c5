package io.livemigrate.cli;

import io.livemigrate.cli.ApiClient.ApiError;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.util.concurrent.locks.LockSupport;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Follows a server's newest migration to its end: a bar with bytes copied, dirty rate and ETA,
 * redrawn in place on a terminal and printed as lines otherwise. Returns 0 when it completed, 1
 * (with status, reason and message on stderr) otherwise.
 *
 * <p>Ctrl-C stops the watching, not the migration: it says so, with the commands that follow or
 * abort it, and exits 130 as a shell expects of an interrupted command.
 */
final class ProgressBar {
  /** The exit status after Ctrl-C (128 + SIGINT), as shells report an interrupted command. */
  static final int EXIT_INTERRUPTED = 130;

  private static final int WIDTH = 30;
  private final PrintStream out;
  private final PrintStream err;
  private final boolean tty;
  private volatile JsonObject current;

  ProgressBar(PrintStream out, PrintStream err, boolean tty) {
    this.out = out;
    this.err = err;
    this.tty = tty;
  }

  int follow(ApiClient api, JsonObject server, long pollMs) {
    String serverId = server.getString("id");
    String name = server.getString("name");
    SignalHandler previous = onCtrlC(name);
    try {
      String lastLine = "";
      while (true) {
        JsonObject m = api.newestMigration(serverId);
        if (m == null) throw new ApiError(404, "no migration found for server " + serverId);
        current = m;
        String status = m.getString("status");
        String line = render(m);
        if (tty) {
          out.print("\r" + line + "\u001b[K");
          out.flush();
        } else if (!line.equals(lastLine)) {
          out.println(line);
        }
        lastLine = line;
        switch (status) {
          case "completed" -> {
            if (tty) out.println();
            out.println(
                "Migration "
                    + m.getLong("id")
                    + " completed: "
                    + m.getString("source_compute")
                    + " -> "
                    + m.getString("dest_compute")
                    + timing(m));
            return 0;
          }
          case "failed", "cancelled", "error" -> {
            if (tty) out.println();
            err.println(
                "Migration "
                    + m.getLong("id")
                    + " "
                    + status
                    + ": "
                    + m.getValue("reason")
                    + (m.getString("message") == null ? "" : " (" + m.getString("message") + ")"));
            return 1;
          }
          default -> LockSupport.parkNanos(pollMs * 1_000_000L);
        }
      }
    } finally {
      if (previous != null) Signal.handle(new Signal("INT"), previous);
    }
  }

  private static String timing(JsonObject m) {
    Long d = MigrationCommands.durationMs(m);
    Object downtime = m.getValue("downtime_ms");
    return (d == null ? "" : " in " + Output.millis(d))
        + (downtime == null ? "" : ", downtime " + Output.millis(downtime));
  }

  private SignalHandler onCtrlC(String name) {
    try {
      return Signal.handle(
          new Signal("INT"),
          sig -> {
            JsonObject m = current;
            if (tty) out.println();
            out.flush();
            if (m == null) {
              err.println("Stopped watching. The live migration of " + name + " continues.");
            } else {
              long id = m.getLong("id");
              err.printf(
                  "Stopped watching. Live migration %d of %s continues on the server (%s).%n"
                      + "  follow it: %s migration show %s %d%n"
                      + "  abort it:  %s migration abort %s %d%n",
                  id, name, m.getString("status"), Main.prog(), name, id, Main.prog(), name, id);
            }
            err.flush();
            Runtime.getRuntime().halt(EXIT_INTERRUPTED);
          });
    } catch (IllegalArgumentException e) {
      return null; // SIGINT reserved (-Xrs): the JVM's default handling stays
    }
  }

  static String render(JsonObject m) {
    long total = m.getLong("memory_total_bytes", 0L);
    long done = m.getLong("memory_processed_bytes", 0L);
    long dirty = m.getLong("dirty_rate_bytes_per_sec", 0L);
    long bw = m.getLong("bandwidth_bytes_per_sec", 0L);
    long remaining = m.getLong("memory_remaining_bytes", total);
    String status = m.getString("status");
    Integer p = MigrationCommands.progress(m);
    int pct = p == null ? 0 : p;
    int fill = pct * WIDTH / 100;
    String eta;
    if ("completed".equals(status)) eta = "0s";
    else if (bw > dirty && bw > 0) eta = ((remaining + bw - dirty - 1) / (bw - dirty)) + "s";
    else if (bw > 0) eta = "never (dirtying faster than the link)";
    else eta = "--";
    return String.format(
        "[%s%s] %3d%%  %s / %s  dirty %s/s  ETA %s  %s",
        "#".repeat(fill),
        "-".repeat(WIDTH - fill),
        pct,
        Output.bytes(done),
        Output.bytes(total),
        Output.bytes(dirty),
        eta,
        status);
  }
}
