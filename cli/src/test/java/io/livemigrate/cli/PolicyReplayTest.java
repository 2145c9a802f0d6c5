package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The replay command over the recorded non-converging trace in docs/traces. */
class PolicyReplayTest {
  private static String replay(String... args) {
    PolicyReplay.Replay r = new PolicyReplay.Replay();
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    r.out = new PrintStream(buf, true, StandardCharsets.UTF_8);
    int code = new CommandLine(r).execute(args);
    assertEquals(0, code);
    return buf.toString(StandardCharsets.UTF_8);
  }

  private static String trace() {
    return Path.of("..", "docs", "traces", "non-converging.jsonl").toString();
  }

  @Test
  void defaultProfileWaitsForTheTimeout() {
    // Nova's first ramp step is at 150 s and the timeout at 1600 s: nothing in a 120 s trace.
    String out = replay(trace());
    assertTrue(!out.contains("set_downtime") && !out.contains("force_complete"), out);
    assertTrue(!out.contains(" abort "), out);
    assertTrue(out.contains("120 samples, 0 escalation steps, final action false"), out);
  }

  @Test
  void recommendedProfileEscalatesToPostCopyWithinSeconds() {
    String out = replay(trace(), "--profile", "recommended", "--permit-post-copy");
    assertTrue(out.contains("set_downtime:500ms"), out);
    assertTrue(out.contains("force_complete:postcopy"), out);
    assertTrue(out.contains("final action true"), out);
    String line = out.lines().filter(l -> l.contains("force_complete")).findFirst().orElseThrow();
    double at = Double.parseDouble(line.trim().split(" ")[0]);
    assertTrue(at <= 20, "decided at " + at + " s: " + line);
  }
}
