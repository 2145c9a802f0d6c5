package io.livemigrate.cli.faults;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A PostgreSQL server of the harness's own (the machine's binaries, its own data directory and
 * port), so a scenario can restart it without disturbing the machine's PostgreSQL that other tests
 * use. Runs as the {@code postgres} user, as initdb refuses root.
 */
final class PrivatePostgres implements AutoCloseable {
  private final Path dir;
  private final int port;
  private final Path bin;

  private PrivatePostgres(Path dir, int port, Path bin) {
    this.dir = dir;
    this.port = port;
    this.bin = bin;
  }

  /** The server's binaries, or null when PostgreSQL is not installed. */
  static Path binaries() throws IOException {
    Path root = Path.of("/usr/lib/postgresql");
    if (!Files.isDirectory(root)) return null;
    try (Stream<Path> versions = Files.list(root)) {
      return versions
          .map(v -> v.resolve("bin"))
          .filter(b -> Files.isExecutable(b.resolve("initdb")))
          .max(Comparator.naturalOrder())
          .orElse(null);
    }
  }

  static PrivatePostgres start(int port) throws Exception {
    Path bin = binaries();
    if (bin == null) throw new IllegalStateException("PostgreSQL's server binaries not found");
    Path dir = Files.createTempDirectory("lm-faults-pg");
    run("chown", "postgres", dir.toString());
    PrivatePostgres pg = new PrivatePostgres(dir, port, bin);
    pg.asPostgres(
        bin.resolve("initdb").toString(),
        "-D",
        dir.resolve("data").toString(),
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync");
    pg.ctl("start", "-w", "-l", dir.resolve("server.log").toString(), "-o", pg.options());
    return pg;
  }

  private String options() {
    // Loopback only; fsync kept (the conductor's commits must be durable) but a small footprint.
    return "-p "
        + port
        + " -k "
        + dir
        + " -c listen_addresses=127.0.0.1 -c max_connections=60"
        + " -c shared_buffers=32MB";
  }

  String url() {
    return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
  }

  /** Kills the server the hard way (as a crash would) and starts it again after {@code downMs}. */
  void restart(long downMs) throws Exception {
    stop("immediate");
    Thread.sleep(downMs);
    ctl("start", "-w", "-l", dir.resolve("server.log").toString(), "-o", options());
  }

  void stop(String mode) throws Exception {
    ctl("stop", "-w", "-m", mode);
  }

  boolean accepts() {
    try (Connection c = DriverManager.getConnection(url(), "postgres", null)) {
      return c.isValid(1);
    } catch (SQLException e) {
      return false;
    }
  }

  private void ctl(String... args) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString()));
    cmd.addAll(List.of(args));
    asPostgres(cmd.toArray(String[]::new));
  }

  private void asPostgres(String... cmd) throws Exception {
    List<String> full = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
    full.addAll(List.of(cmd));
    run(full.toArray(String[]::new));
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + out);
    }
  }

  @Override
  public void close() throws Exception {
    try {
      stop("immediate");
    } catch (Exception e) {
      // already down
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }
}
