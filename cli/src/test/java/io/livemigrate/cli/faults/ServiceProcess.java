package io.livemigrate.cli.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One livemigrate service in a JVM of its own ({@code livemigrate serve <service>} or {@code
 * all-in-one}), configured only through {@code LIVEMIGRATE_*} environment variables, so that it can
 * really be killed: {@link #kill()} is SIGKILL, {@link #terminate()} is SIGTERM (what systemd
 * sends). Its output goes to a log file that survives restarts (each start is marked in it).
 */
final class ServiceProcess {
  private final String label;
  private final List<String> args;
  private final Map<String, String> env;
  private final Path log;
  private Process process;
  private long startOffset;

  ServiceProcess(String label, List<String> args, Map<String, String> env, Path log) {
    this.label = label;
    this.args = List.copyOf(args);
    this.env = Map.copyOf(env);
    this.log = log;
  }

  String label() {
    return label;
  }

  Path log() {
    return log;
  }

  /** Starts the process; {@link #await} tells when it is ready. */
  ServiceProcess start() throws IOException {
    if (!Files.exists(log)) Files.createFile(log);
    startOffset = Files.size(log);
    Files.writeString(
        log, "===== " + label + " started at " + Instant.now() + "\n", StandardOpenOption.APPEND);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.add("-Xmx256m");
    cmd.add("-XX:+UseSerialGC");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("io.livemigrate.cli.Main");
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    Map<String, String> e = pb.environment();
    // Only this fleet's configuration: an unknown LIVEMIGRATE_X__Y would even fail start-up.
    e.keySet().removeIf(k -> k.startsWith("LIVEMIGRATE_"));
    e.putAll(env);
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    process = pb.start();
    return this;
  }

  /**
   * Waits until this start's output matches {@code ready} and returns the first group (a port,
   * say), or fails with the log's tail if the process exits or the time runs out.
   */
  String await(Pattern ready, Duration within) throws Exception {
    long deadline = System.nanoTime() + within.toNanos();
    while (System.nanoTime() < deadline) {
      Matcher m = ready.matcher(output());
      if (m.find()) return m.groupCount() > 0 ? m.group(1) : m.group();
      if (!process.isAlive()) {
        throw new IllegalStateException(
            label + " exited with " + process.exitValue() + " before it was ready\n" + tail(40));
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException(label + " not ready within " + within + "\n" + tail(40));
  }

  /** What this start wrote so far. */
  String output() throws IOException {
    byte[] all = Files.readAllBytes(log);
    int from = (int) Math.min(startOffset, all.length);
    return new String(all, from, all.length - from, StandardCharsets.UTF_8);
  }

  String tail(int lines) {
    try {
      List<String> l = Files.readString(log).lines().toList();
      return "--- tail of "
          + log
          + " ---\n"
          + String.join("\n", l.subList(Math.max(0, l.size() - lines), l.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  /** SIGKILL, and waits for the process to be gone. */
  void kill() throws InterruptedException {
    if (process == null) return;
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** SIGTERM; waits up to {@code grace} for a clean exit, then SIGKILL. */
  int terminate(Duration grace) throws InterruptedException {
    if (process == null || !process.isAlive()) return process == null ? 0 : process.exitValue();
    process.destroy();
    if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
      return -1;
    }
    return process.exitValue();
  }

  long pid() {
    return process.pid();
  }
}
