package io.livemigrate.cli;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The two-host libvirt testbed (deploy/testbed/testbed.sh) as the tests use it. There is one
 * testbed per machine and the test JVMs run in parallel, so a class that brings it up holds {@link
 * #lock} from its first step to its last: the next class waits rather than tearing it down under
 * the first one's guests.
 */
public final class Testbed {
  static final Path SCRIPT = Path.of("..", "deploy", "testbed", "testbed.sh");
  private static final Path LOCK = Path.of("/tmp/livemigrate-testbed-tests.lock");

  private static FileChannel lockFile;
  private static FileLock held;

  private Testbed() {}

  /** Waits until no other test JVM of this machine uses the testbed, then holds it. */
  public static synchronized void lock() throws IOException {
    if (held != null) return;
    lockFile = FileChannel.open(LOCK, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    held = lockFile.lock();
  }

  /** Lets the next test JVM have the testbed. */
  public static synchronized void unlock() throws IOException {
    if (held == null) return;
    held.release();
    lockFile.close();
    held = null;
  }

  /** Runs the testbed script; its stderr ends up in target/testbed.log, its stdout is returned. */
  public static String run(Duration timeout, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(SCRIPT.toString());
    cmd.addAll(List.of(args));
    Path log = Path.of("target", "testbed.log");
    Files.createDirectories(log.getParent());
    Process p =
        new ProcessBuilder(cmd)
            .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    String out;
    try (var in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("testbed " + cmd + " timed out");
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException(
          "testbed " + cmd + " exited " + p.exitValue() + " (see " + log + ")");
    }
    return out.trim();
  }
}
