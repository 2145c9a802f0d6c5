package io.livemigrate.packaging;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs commands for the tests: output and status, with a deadline. */
final class Sh {
  private Sh() {}

  record Result(int exit, String output) {}

  static Result exec(List<String> cmd, long timeoutSeconds) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    byte[] out;
    try (var in = p.getInputStream()) {
      out = in.readAllBytes();
    }
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("timed out: " + cmd);
    }
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  /** The output, whatever the status. */
  static String run(String... cmd) throws Exception {
    return exec(List.of(cmd), 120).output();
  }

  /** The output of a command that must succeed. */
  static String out(String... cmd) throws Exception {
    Result r = exec(List.of(cmd), 120);
    if (r.exit() != 0)
      throw new AssertionError(String.join(" ", cmd) + " exited " + r.exit() + ":\n" + r.output());
    return r.output();
  }

  static boolean which(String name) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, name))) return true;
    }
    return false;
  }
}
