package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.config.LibvirtOptions;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Our CLI's {@code server migrate --live HOST --wait} under a pseudo-terminal ({@code script}): the
 * bar is redrawn in place with bytes, dirty rate and ETA; exit 0 when the migration completes,
 * non-zero with the reason when it fails (a guest that never converges hits the completion
 * timeout).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CliProgressBarTest {
  static final String VM1 = "d1df1b5a-70c4-4fed-98b7-423362f2c47c";
  static final String HOG = "0b6c2f4e-2222-4a2b-9c3d-000000000004";
  static final long MIB = ApiCloud.MIB;

  ApiCloud cloud;

  @BeforeAll
  void start() throws Exception {
    if (!StockClientsE2ETest.onPath("script")) {
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException("script (util-linux) is needed for the pty test on CI");
      }
      Assumptions.abort("no script(1) for a pseudo-terminal");
    }
    cloud =
        ApiCloud.start(
            List.of(
                new AllInOne.HostSpec("HostA", ApiCloud.capacity(), List.of()),
                new AllInOne.HostSpec(
                    "HostB",
                    ApiCloud.capacity(),
                    List.of(
                        ApiCloud.guest(VM1, "vm1", "p1", 1024, 5 * MIB, 0),
                        ApiCloud.guest(HOG, "hog", "p1", 1024, 3072 * MIB, 512 * MIB)))),
            // 2 s per GiB, at least 2 GiB counted: the hog fails after about 4 s.
            Map.of(LibvirtOptions.COMPLETION_TIMEOUT.key(), "2"));
  }

  @AfterAll
  void stop() throws Exception {
    if (cloud != null) cloud.close();
  }

  record Run(int exit, String output) {}

  /** Runs our CLI under script(1), so its stdout is a terminal. */
  Run underPty(String... args) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    StringBuilder cmd =
        new StringBuilder(java)
            .append(" -cp '")
            .append(System.getProperty("java.class.path"))
            .append("' io.livemigrate.cli.Main");
    for (String a : args) cmd.append(' ').append(a);
    Path log = Files.createTempFile("pty", ".log");
    ProcessBuilder pb =
        new ProcessBuilder("script", "-qfec", cmd.toString(), log.toString())
            .redirectErrorStream(true)
            .redirectOutput(File.createTempFile("pty", ".out"));
    pb.environment().keySet().removeIf(k -> k.startsWith("OS_"));
    pb.environment().put("OS_ENDPOINT", cloud.endpoint);
    pb.environment().put("OS_TOKEN", ApiCloud.ADMIN);
    Process p = pb.start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("CLI did not finish: " + cmd);
    }
    Run r = new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    Files.deleteIfExists(log);
    return r;
  }

  @Test
  void barRedrawsInPlaceAndExitsZeroOnCompletion() throws Exception {
    Run r = underPty("server", "migrate", "vm1", "--live", "HostA", "--wait");
    assertEquals(0, r.exit(), r.output());
    // Redrawn in place: carriage returns, and the bar's parts.
    assertTrue(r.output().chars().filter(c -> c == '\r').count() >= 2, r.output());
    assertTrue(r.output().contains("100%") && r.output().contains("completed"), r.output());
    assertTrue(r.output().contains("dirty ") && r.output().contains("ETA "), r.output());
    assertTrue(r.output().contains("GiB"), r.output());
    assertTrue(r.output().matches("(?s).*Migration \\d+ completed: HostB -> HostA.*"), r.output());
    assertEquals(
        "HostA",
        cloud
            .as(ApiCloud.ADMIN)
            .get("/servers/" + VM1)
            .json()
            .getJsonObject("server")
            .getString("OS-EXT-SRV-ATTR:host"));
  }

  @Test
  void failedMigrationExitsNonZeroWithTheReason() throws Exception {
    Run r = underPty("server", "migrate", "hog", "--live", "HostA", "--wait");
    assertNotEquals(0, r.exit(), r.output());
    assertTrue(r.output().contains("failed: COMPLETION_TIMEOUT"), r.output());
    assertTrue(r.output().contains("never (dirtying faster than the link)"), r.output());
  }

  @Test
  void refusedRequestExitsNonZeroWithNovasMessage() throws Exception {
    Run r = underPty("server", "migrate", "vm1", "--live", "NoSuchHost", "--wait");
    assertEquals(1, r.exit(), r.output());
    assertTrue(
        r.output().contains("Compute host NoSuchHost could not be found. (HTTP 400)"), r.output());
  }
}
