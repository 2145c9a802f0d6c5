package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an operator sees in the all-in-one's terminal (a separate JVM on a pseudo-terminal): a
 * migration that waits queued behind another, a normal Ctrl-C, a restart on the same data directory
 * (the admin token kept), a port already in use and a configuration typo. None of them may print an
 * ERROR or WARN line or a stack trace; the failures are one line each that names what to fix.
 */
class LogNoiseTest {
  static final String VM1 = "d1df1b5a-70c4-4fed-98b7-423362f2c47c";
  static final String VM2 = "d693db9e-a7cf-45ef-a7c9-b3ecb5f22645";
  static final Pattern API = Pattern.compile("API: +(http://127\\.0\\.0\\.1:(\\d+)/v2\\.1)");
  static final Duration START = Duration.ofSeconds(90);

  @TempDir Path dir;

  /** Lines a quiet log must not have: a level above INFO, or any part of a stack trace. */
  static List<String> noise(String output) {
    List<String> bad = new ArrayList<>();
    for (String line : output.split("\r?\n")) {
      if (line.contains("[ERROR]")
          || line.contains("[WARN]")
          || line.matches("\\s+at [\\w$.]+\\(.*\\)\\s*")
          || line.startsWith("Caused by:")
          || line.matches("\\s*\\.\\.\\. \\d+ more\\s*")
          || line.matches("^[\\w.$]+(Exception|Error)(: .*)?$")) {
        bad.add(line);
      }
    }
    return bad;
  }

  static void assertQuiet(String what, String output) {
    List<String> bad = noise(output);
    assertTrue(bad.isEmpty(), what + " printed noise:\n  " + String.join("\n  ", bad));
  }

  private Terminal allInOne(Path conf, int apiPort, Map<String, String> env) throws Exception {
    return Terminal.start(
        Terminal.livemigrate(
            "all-in-one",
            "--config",
            conf.toString(),
            "--api-port",
            Integer.toString(apiPort),
            "--data",
            dir.resolve("data").toString()),
        env,
        Duration.ofMinutes(4));
  }

  @Test
  void queuedMigrationCtrlCRestartPortInUseAndTypoAreQuiet() throws Exception {
    Path conf = dir.resolve("aio.conf");
    // Any free metrics ports; a link that makes vm1's 2 GiB take a few seconds, so vm2 waits
    // queued behind it (one outbound migration per host) through several retries.
    Files.writeString(conf, "[ops]\nport = 0\n[simulated]\nlink_bandwidth_mibps = 400\n");

    // 1. Start, two migrations from HostB (the second queued), both complete, then Ctrl-C.
    String first;
    int apiPort;
    String token;
    try (Terminal t = allInOne(conf, 0, Map.of())) {
      String banner = t.await("the ready banner", START, o -> o.contains("Ctrl-C stops it."));
      Matcher m = API.matcher(banner);
      assertTrue(m.find(), banner);
      apiPort = Integer.parseInt(m.group(2));
      Path tokenFile = dir.resolve("data").resolve("admin-token");
      assertEquals(
          "rw-------",
          PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile)),
          "the token file is the owner's only");
      token = Files.readString(tokenFile).trim();
      assertFalse(banner.contains(token), "the banner shows where the token is, not the token");
      assertTrue(banner.contains(tokenFile.toString()), banner);

      Http api = new Http(m.group(1), token);
      String body = "{\"os-migrateLive\": {\"host\": null, \"block_migration\": \"auto\"}}";
      assertEquals(202, api.post("/servers/" + VM1 + "/action", body, "2.30").status());
      assertEquals(202, api.post("/servers/" + VM2 + "/action", body, "2.30").status());
      Http.until(
          "vm2 queued behind vm1",
          Duration.ofSeconds(30),
          () -> "queued".equals(status(api, VM2)) || "completed".equals(status(api, VM2)));
      Http.until(
          "both migrations completed",
          Duration.ofSeconds(120),
          () -> "completed".equals(status(api, VM1)) && "completed".equals(status(api, VM2)));
      assertTrue(
          t.output().contains("queued"), "the conductor said vm2 waits queued:\n" + t.output());
      t.ctrlC();
      assertEquals(0, t.exit(Duration.ofSeconds(60)), t.output());
      first = t.output();
    }
    assertTrue(first.contains("SIGINT received, stopping"), first);
    assertQuiet("a queued migration and a normal Ctrl-C", first);

    // 2. A restart on the same data directory keeps the token, so an exported OS_TOKEN works.
    String second;
    String third;
    try (Terminal t = allInOne(conf, apiPort, Map.of())) {
      t.await("the ready banner after a restart", START, o -> o.contains("Ctrl-C stops it."));
      Http api = new Http("http://127.0.0.1:" + apiPort + "/v2.1", token);
      assertEquals(200, api.get("/os-migrations").status(), "the old token still works");
      assertEquals(
          2, api.get("/os-migrations").json().getJsonArray("migrations").size(), "list intact");

      // 3. A second all-in-one on the same API port: one line naming the port and the service.
      // The environment's token must never be printed.
      try (Terminal clash =
          allInOne(conf, apiPort, Map.of("LIVEMIGRATE_ADMIN_TOKEN", "env-secret-4711"))) {
        assertEquals(75, clash.exit(START), clash.output());
        third = clash.output().trim();
      }
      t.ctrlC();
      assertEquals(0, t.exit(Duration.ofSeconds(60)), t.output());
      second = t.output();
    }
    assertQuiet("a restart", second);
    assertQuiet("a port in use", third);
    assertFalse(third.contains("env-secret-4711"), third);
    assertEquals(1, third.lines().count(), "one line:\n" + third);
    assertTrue(
        third.contains("port " + apiPort) && third.contains("all-in-one") && third.contains("API"),
        third);

    // 4. A metrics port in use, for a service alone.
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        Terminal t =
            Terminal.start(
                Terminal.livemigrate("serve", "scheduler"),
                // The scheduler listens on [ops] port + 1.
                Map.of("LIVEMIGRATE_OPS__PORT", Integer.toString(taken.getLocalPort() - 1)),
                START)) {
      assertEquals(75, t.exit(START), t.output());
      String out = t.output().trim();
      assertQuiet("a metrics port in use", out);
      assertEquals(
          "livemigrate scheduler: port "
              + taken.getLocalPort()
              + " on 127.0.0.1 for its metrics and health ([ops] port + 1) is already in use by"
              + " another process; stop it or choose another port",
          out);
    }

    // 5. Typos: every problem listed, no stack trace, exit 78.
    Path typo = dir.resolve("typo.conf");
    Files.writeString(typo, "[ops]\nprot = 9180\n[libvirt]\nlive_migration_downtime = 5\n");
    try (Terminal t =
        Terminal.start(
            Terminal.livemigrate("serve", "conductor", "--config", typo.toString()),
            Map.of("LIVEMIGRATE_SIMULATED__TICKMS", "5"),
            START)) {
      assertEquals(78, t.exit(START), t.output());
      String out = t.output();
      assertQuiet("a configuration typo", out);
      assertTrue(out.contains("livemigrate conductor: invalid configuration:"), out);
      assertTrue(out.contains(typo + ":2: unknown option ops.prot"), out);
      assertTrue(out.contains("live_migration_downtime: 5 is below the minimum 100"), out);
      assertTrue(out.contains("unknown environment variable LIVEMIGRATE_SIMULATED__TICKMS"), out);
    }
  }

  private static String status(Http api, String server) {
    var l = api.get("/os-migrations?instance_uuid=" + server).json().getJsonArray("migrations");
    return l.isEmpty() ? "" : ((JsonObject) l.getValue(0)).getString("status");
  }
}
