package io.livemigrate.cli;

import io.livemigrate.common.config.Option;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One service in a JVM of its own ({@code livemigrate serve <service>}), configured through {@code
 * LIVEMIGRATE_*} environment variables only, its output appended to a log file; so that a test can
 * run the services as separate processes, as they are deployed.
 */
final class ServiceProcess implements AutoCloseable {
  private final String label;
  private final Path log;
  private final Process process;
  private final long offset;

  private ServiceProcess(String label, Path log, Process process, long offset) {
    this.label = label;
    this.log = log;
    this.process = process;
    this.offset = offset;
  }

  /**
   * Starts {@code service} and waits until its output matches {@code ready}.
   *
   * @param options configuration, by option
   * @param extraEnv further environment variables (the admin token)
   */
  static ServiceProcess start(
      String label,
      String service,
      Map<Option, String> options,
      Map<String, String> extraEnv,
      Path log,
      Pattern ready)
      throws Exception {
    if (!Files.exists(log)) Files.createFile(log);
    long offset = Files.size(log);
    Files.writeString(
        log,
        "===== " + label + " started at " + Instant.now() + "\n",
        java.nio.file.StandardOpenOption.APPEND);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(
            java,
            "-Xmx256m",
            "-cp",
            System.getProperty("java.class.path"),
            "io.livemigrate.cli.Main",
            "serve",
            service);
    Map<String, String> env = pb.environment();
    // Only this test's configuration: an unknown LIVEMIGRATE_X__Y would even fail start-up.
    env.keySet().removeIf(k -> k.startsWith("LIVEMIGRATE_"));
    options.forEach((o, v) -> env.put(o.envName(), v));
    env.putAll(extraEnv);
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    ServiceProcess s = new ServiceProcess(label, log, pb.start(), offset);
    Http.until(
        label + " to come up",
        Duration.ofSeconds(60),
        () -> {
          if (!s.process.isAlive()) {
            throw new AssertionError(label + " exited with " + s.process.exitValue() + s.tail());
          }
          return ready.matcher(s.output()).find();
        });
    return s;
  }

  /** What this process wrote so far. */
  String output() {
    try {
      byte[] all = Files.readAllBytes(log);
      return new String(all, (int) offset, all.length - (int) offset, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The first group of {@code p} in the output (a port it printed). */
  int printed(Pattern p) {
    Matcher m = p.matcher(output());
    if (!m.find()) throw new AssertionError(label + " did not print " + p + tail());
    return Integer.parseInt(m.group(1));
  }

  String tail() {
    List<String> lines = output().lines().toList();
    return "\n--- tail of "
        + log.toAbsolutePath()
        + " ("
        + label
        + ") ---\n"
        + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }

  boolean alive() {
    return process.isAlive();
  }

  @Override
  public void close() throws Exception {
    if (!process.isAlive()) return;
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
