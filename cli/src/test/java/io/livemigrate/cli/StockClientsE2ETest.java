package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.config.LibvirtOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The admin guide's live-migration workflow driven by the unmodified Debian {@code openstack}
 * (python3-openstackclient 6.0.0) and {@code nova} (python3-novaclient 18.1.0) CLIs against the
 * all-in-one. Skipped only on a developer machine without the CLIs; on CI ({@code CI=true}) a
 * missing CLI fails the test.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StockClientsE2ETest {
  static final String VM1 = "d1df1b5a-70c4-4fed-98b7-423362f2c47c";
  static final String VM2 = "d693db9e-a7cf-45ef-a7c9-b3ecb5f22645";
  static final String STUCK1 = "5a1e0c2b-0000-4a2b-9c3d-00000000aa01";
  static final String STUCK2 = "5a1e0c2b-0000-4a2b-9c3d-00000000aa02";
  static final long MIB = ApiCloud.MIB;

  ApiCloud cloud;
  Http api;

  static boolean onPath(String exe) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, exe))) return true;
    }
    return false;
  }

  /**
   * The admin guide's hosts: HostA empty, HostB with vm1 and stuck1 (project p1) and vm2 and stuck2
   * (p2), HostC with one big guest. vm1/vm2 converge at once; the stuck guests dirty 3 GiB/s over a
   * 1 GiB/s link and never do, so abort and force-complete are observable.
   */
  static List<AllInOne.HostSpec> adminGuideHosts(String p1, String p2) {
    return List.of(
        new AllInOne.HostSpec("HostA", ApiCloud.capacity(), List.of()),
        new AllInOne.HostSpec(
            "HostB",
            ApiCloud.capacity(),
            List.of(
                ApiCloud.guest(VM1, "vm1", p1, 512, 5 * MIB, 0),
                ApiCloud.guest(VM2, "vm2", p2, 512, 5 * MIB, 0),
                ApiCloud.guest(STUCK1, "stuck1", p1, 1024, 3072 * MIB, 512 * MIB),
                ApiCloud.guest(STUCK2, "stuck2", p2, 1024, 3072 * MIB, 512 * MIB))),
        // HostC starts fuller than HostA, so the weigher prefers HostA (test 4).
        new AllInOne.HostSpec(
            "HostC",
            ApiCloud.capacity(),
            List.of(
                ApiCloud.guest("5a1e0c2b-0000-4a2b-9c3d-00000000aa03", "big", p2, 16384, 0, 0))));
  }

  /** Skips off CI, fails on CI, without the stock CLIs. */
  static void requireClis() {
    if (!onPath("openstack") || !onPath("nova")) {
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException(
            "the stock openstack and nova CLIs must be installed on CI (.ci/run installs them)");
      }
      Assumptions.abort("openstack/nova CLIs are not installed");
    }
  }

  @BeforeAll
  void start() throws Exception {
    requireClis();
    // Guests that never converge (dirtying 3 GiB/s over a 1 GiB/s link) and a completion timeout
    // far away, so abort and force-complete are observable; vm1/vm2 converge at once.
    cloud =
        ApiCloud.start(
            adminGuideHosts("p1", "p2"), Map.of(LibvirtOptions.COMPLETION_TIMEOUT.key(), "600"));
    api = cloud.as(ApiCloud.ADMIN);
  }

  @AfterAll
  void stop() throws Exception {
    if (cloud != null) cloud.close();
  }

  record Run(int exit, String out, String err) {
    String all() {
      return out + err;
    }
  }

  Run run(boolean nova, String... args) throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("OS_ENDPOINT", cloud.endpoint);
    env.put("OS_TOKEN", ApiCloud.ADMIN);
    if (nova) {
      // novaclient insists on a project and an auth URL it never uses (osc-contract §1).
      env.put("OS_AUTH_TYPE", "admin_token");
      env.put("OS_PROJECT_ID", "unused");
      env.put("OS_AUTH_URL", "http://127.0.0.1:9/unused");
    }
    return cli(env, nova, args);
  }

  Run ok(boolean nova, String... args) throws Exception {
    return ok(run(nova, args), args);
  }

  /** Runs {@code nova} or {@code openstack} with exactly these OS_* variables (no others). */
  static Run cli(Map<String, String> osEnv, boolean nova, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(nova ? "nova" : "openstack");
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    Map<String, String> env = pb.environment();
    env.keySet().removeIf(k -> k.startsWith("OS_"));
    env.putAll(osEnv);
    Path out = Files.createTempFile("cli", ".out");
    Path err = Files.createTempFile("cli", ".err");
    Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(180, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(cmd + " did not finish in 180 s");
    }
    Run r =
        new Run(
            p.exitValue(),
            Files.readString(out, StandardCharsets.UTF_8),
            Files.readString(err, StandardCharsets.UTF_8));
    Files.deleteIfExists(out);
    Files.deleteIfExists(err);
    return r;
  }

  /** The run, asserted to have exited 0. */
  static Run ok(Run r, String... args) {
    assertEquals(0, r.exit(), String.join(" ", args) + "\n" + r.all());
    return r;
  }

  String host(String uuid) {
    return host(api, uuid);
  }

  String status(String uuid) {
    return status(api, uuid);
  }

  JsonObject awaitRunning(String uuid) {
    return awaitRunning(api, uuid);
  }

  JsonObject latestMigration(String uuid) {
    return latestMigration(api, uuid);
  }

  static String host(Http api, String uuid) {
    return api.get("/servers/" + uuid)
        .json()
        .getJsonObject("server")
        .getString("OS-EXT-SRV-ATTR:host");
  }

  static String status(Http api, String uuid) {
    return api.get("/servers/" + uuid).json().getJsonObject("server").getString("status");
  }

  /** The server's in-progress migration once it is running (the guest never converges). */
  static JsonObject awaitRunning(Http api, String uuid) {
    JsonObject[] m = new JsonObject[1];
    Http.until(
        uuid + " migration running with bytes copied",
        Duration.ofSeconds(30),
        () -> {
          JsonArray l =
              api.get("/servers/" + uuid + "/migrations", "2.59").json().getJsonArray("migrations");
          m[0] = l.isEmpty() ? null : l.getJsonObject(0);
          return m[0] != null
              && "running".equals(m[0].getString("status"))
              && m[0].getLong("memory_processed_bytes") > 0;
        });
    return m[0];
  }

  static JsonObject latestMigration(Http api, String uuid) {
    return api.get("/os-migrations?instance_uuid=" + uuid)
        .json()
        .getJsonArray("migrations")
        .getJsonObject(0);
  }

  @Test
  @Order(1)
  void adminGuideManualDestination() throws Exception {
    assertTrue(ok(false, "server", "list").out().contains("vm1"));
    assertEquals(
        "HostB",
        ok(false, "server", "show", "vm1", "-f", "value", "-c", "OS-EXT-SRV-ATTR:host")
            .out()
            .trim());
    String services = ok(false, "compute", "service", "list").out();
    assertTrue(services.contains("HostC") && services.contains("nova-compute"), services);
    String hostTable = ok(false, "host", "show", "HostC").out();
    assertTrue(
        hostTable.contains("(total)")
            && hostTable.contains("(used_now)")
            && hostTable.contains("(used_max)"),
        hostTable);
    assertTrue(ok(false, "hypervisor", "list").out().contains("HostC"));
    ok(
        false,
        "--os-compute-api-version",
        "2.30",
        "server",
        "migrate",
        "--live-migration",
        "--host",
        "HostC",
        "vm1",
        "--wait");
    assertEquals(
        "HostC",
        ok(false, "server", "show", "vm1", "-f", "value", "-c", "OS-EXT-SRV-ATTR:host")
            .out()
            .trim());
    assertEquals("completed", latestMigration(VM1).getString("status"));
    String list =
        ok(false, "--os-compute-api-version", "2.59", "server", "migration", "list").out();
    assertTrue(list.contains(VM1) && list.contains("completed"), list);
  }

  @Test
  @Order(2)
  void novaAbortLeavesTheServerOnTheSource() throws Exception {
    ok(true, "live-migration", STUCK1, "HostC");
    assertEquals("MIGRATING", status(STUCK1));
    JsonObject m = awaitRunning(STUCK1);
    String id = Long.toString(m.getLong("id"));
    String list = ok(true, "server-migration-list", STUCK1).out();
    assertTrue(list.contains("running") && list.contains("HostC"), list);
    String show = ok(true, "server-migration-show", STUCK1, id).out();
    assertTrue(show.contains("memory_processed_bytes"), show);
    assertTrue(show.contains(Long.toString(m.getLong("memory_total_bytes"))), show);
    ok(true, "live-migration-abort", STUCK1, id);
    Http.until(
        "stuck1 ACTIVE after abort", Duration.ofSeconds(30), () -> "ACTIVE".equals(status(STUCK1)));
    assertEquals("HostB", host(STUCK1));
    assertEquals("cancelled", latestMigration(STUCK1).getString("status"));
    // A finished migration can no longer be aborted: the client reports Nova's 404.
    Run again = run(true, "live-migration-abort", STUCK1, id);
    assertEquals(1, again.exit(), again.all());
    assertTrue(again.all().contains("HTTP 404"), again.all());
  }

  @Test
  @Order(3)
  void novaForceCompleteCompletes() throws Exception {
    ok(true, "live-migration", STUCK2);
    JsonObject m = awaitRunning(STUCK2);
    ok(true, "live-migration-force-complete", STUCK2, Long.toString(m.getLong("id")));
    Http.until(
        "stuck2 ACTIVE after force-complete",
        Duration.ofSeconds(60),
        () -> "ACTIVE".equals(status(STUCK2)));
    assertEquals("completed", latestMigration(STUCK2).getString("status"));
    assertNotEquals("HostB", host(STUCK2));
  }

  @Test
  @Order(4)
  void aDisabledHostIsNeverChosen() throws Exception {
    ok(
        false,
        "compute",
        "service",
        "set",
        "--disable",
        "--disable-reason",
        "maintenance",
        "HostA",
        "nova-compute");
    String services = ok(false, "compute", "service", "list", "--long").out();
    assertTrue(services.contains("disabled") && services.contains("maintenance"), services);
    // Named: refused before anything starts.
    Run named = run(true, "live-migration", VM2, "HostA");
    assertEquals(1, named.exit(), named.all());
    assertTrue(named.all().contains("disabled") && named.all().contains("HTTP 400"), named.all());
    assertEquals("ACTIVE", status(VM2));
    // Scheduler's choice: HostA has the most free RAM, so only the disable keeps it out.
    String hypervisors = ok(false, "hypervisor", "list", "--long").out();
    assertTrue(hypervisors.contains("HostA"), hypervisors);
    ok(true, "live-migration", VM2);
    Http.until("vm2 ACTIVE", Duration.ofSeconds(30), () -> "ACTIVE".equals(status(VM2)));
    assertEquals("HostC", host(VM2));
    String migrations = ok(true, "migration-list", "--instance-uuid", VM2).out();
    assertTrue(migrations.contains("HostC"), migrations);
    for (Object o :
        api.get("/os-migrations?instance_uuid=" + VM2).json().getJsonArray("migrations")) {
      assertNotEquals("HostA", ((JsonObject) o).getString("dest_compute"), "vm2 went to HostA");
    }
    // Enabled again through the legacy pre-2.53 form.
    ok(true, "--os-compute-api-version", "2.1", "service-enable", "HostA");
    assertTrue(
        api.get("/os-services?host=HostA").body().contains("\"status\":\"enabled\""),
        "HostA enabled again");
  }
}
