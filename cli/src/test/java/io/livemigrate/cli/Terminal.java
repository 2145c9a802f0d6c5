package io.livemigrate.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A command run on its own pseudo-terminal (by {@code ptyrun.py}, Debian's python3), as an operator
 * runs it: its stdout is a terminal, and {@link #ctrlC()} types Ctrl-C into that terminal, so the
 * kernel sends SIGINT to it as a keyboard would.
 */
final class Terminal implements AutoCloseable {
  private final Process process;
  private final Path trigger;
  private final StringBuffer output = new StringBuffer();
  private final Thread reader;

  private Terminal(Process process, Path trigger) {
    this.process = process;
    this.trigger = trigger;
    this.reader =
        new Thread(
            () -> {
              try (InputStream in = process.getInputStream()) {
                byte[] b = new byte[8192];
                int n;
                while ((n = in.read(b)) > 0)
                  output.append(new String(b, 0, n, StandardCharsets.UTF_8));
              } catch (IOException e) {
                // the process ended
              }
            },
            "terminal-reader");
    reader.setDaemon(true);
    reader.start();
  }

  /** python3 for the pty; skipped off CI without it, a failure on CI (.ci/run installs it). */
  static Path python() {
    Path p = Path.of("/usr/bin/python3");
    if (!Files.isExecutable(p)) {
      if ("true".equals(System.getenv("CI"))) Assertions.fail("python3 is needed for pty tests");
      Assumptions.abort("no /usr/bin/python3 for a pseudo-terminal");
    }
    return p;
  }

  /** Our CLI's main class in a new JVM, with this test's class path. */
  static List<String> livemigrate(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx384m");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("io.livemigrate.cli.Main");
    cmd.addAll(List.of(args));
    return cmd;
  }

  /**
   * Starts {@code cmd} on a new terminal.
   *
   * @param env variables to set; every OS_* and LIVEMIGRATE_* of this JVM is removed first
   */
  static Terminal start(List<String> cmd, Map<String, String> env, Duration timeout)
      throws IOException {
    Path script = Path.of("target", "test-classes", "ptyrun.py").toAbsolutePath();
    Path trigger = Files.createTempFile("ctrl-c", ".trigger");
    Files.delete(trigger);
    List<String> full = new ArrayList<>();
    full.add(python().toString());
    full.add(script.toString());
    full.add("--interrupt-file");
    full.add(trigger.toString());
    full.add("--timeout");
    full.add(Long.toString(timeout.toSeconds()));
    full.add("--");
    full.addAll(cmd);
    ProcessBuilder pb = new ProcessBuilder(full).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("OS_") || k.startsWith("LIVEMIGRATE_"));
    pb.environment().putAll(env);
    return new Terminal(pb.start(), trigger);
  }

  /** Types Ctrl-C into the terminal. */
  void ctrlC() {
    try {
      Files.writeString(trigger, "");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Everything the command wrote so far. */
  String output() {
    return output.toString();
  }

  /** Waits until the output satisfies {@code p}; fails (with the output) if the command ends. */
  String await(String what, Duration timeout, Predicate<String> p) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      String o = output();
      if (p.test(o)) return o;
      if (!process.isAlive()) {
        reader.join(2000);
        if (p.test(output())) return output();
        throw new AssertionError(
            "the command ended (exit "
                + process.exitValue()
                + ") before "
                + what
                + ":\n"
                + output());
      }
      Thread.sleep(50);
    }
    throw new AssertionError("no " + what + " within " + timeout + ":\n" + output());
  }

  /** Waits for the command to end; returns its exit status. */
  int exit(Duration timeout) throws Exception {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("still running after " + timeout + ":\n" + output());
    }
    reader.join(5000);
    return process.exitValue();
  }

  @Override
  public void close() throws IOException {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    Files.deleteIfExists(trigger);
  }
}
