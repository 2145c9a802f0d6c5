package io.livemigrate.packaging;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A command on a pseudo-terminal of its own (cli's {@code ptyrun.py}, Debian's python3), as an
 * operator runs it in a terminal; {@link #ctrlC()} types Ctrl-C into it.
 */
final class Pty implements AutoCloseable {
  static final Path SCRIPT = Artifacts.get().root().resolve("cli/src/test/resources/ptyrun.py");
  private final Process process;
  private final Path trigger;
  private final StringBuffer output = new StringBuffer();
  private final Thread reader;

  private Pty(Process process, Path trigger) {
    this.process = process;
    this.trigger = trigger;
    reader =
        new Thread(
            () -> {
              try (InputStream in = process.getInputStream()) {
                byte[] b = new byte[8192];
                int n;
                while ((n = in.read(b)) > 0)
                  output.append(new String(b, 0, n, StandardCharsets.UTF_8));
              } catch (IOException e) {
                // ended
              }
            });
    reader.setDaemon(true);
    reader.start();
  }

  static Pty start(Path dir, Map<String, String> env, Duration timeout, List<String> cmd)
      throws IOException {
    Path trigger = Files.createTempFile("ctrl-c", ".trigger");
    Files.delete(trigger);
    List<String> full =
        new ArrayList<>(
            List.of(
                "/usr/bin/python3",
                SCRIPT.toString(),
                "--interrupt-file",
                trigger.toString(),
                "--timeout",
                Long.toString(timeout.toSeconds()),
                "--"));
    full.addAll(cmd);
    ProcessBuilder pb = new ProcessBuilder(full).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("OS_") || k.startsWith("LIVEMIGRATE_"));
    pb.environment().putAll(env);
    return new Pty(pb.start(), trigger);
  }

  String output() {
    return output.toString();
  }

  String await(String what, Duration timeout, Predicate<String> p) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      if (p.test(output())) return output();
      if (!process.isAlive()) {
        reader.join(2000);
        if (p.test(output())) return output();
        throw new AssertionError(
            "ended (exit " + process.exitValue() + ") before " + what + ":\n" + output());
      }
      Thread.sleep(100);
    }
    throw new AssertionError("no " + what + " within " + timeout + ":\n" + output());
  }

  void ctrlC() throws IOException {
    Files.writeString(trigger, "");
  }

  int exit(Duration timeout) throws Exception {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("still running after " + timeout + ":\n" + output());
    }
    reader.join(5000);
    return process.exitValue();
  }

  boolean alive() {
    return process.isAlive();
  }

  @Override
  public void close() throws IOException {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    Files.deleteIfExists(trigger);
  }
}
