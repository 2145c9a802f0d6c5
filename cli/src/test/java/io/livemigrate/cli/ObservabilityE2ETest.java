package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.config.LibvirtOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Observability against the all-in-one, after three real migrations (one converging, one
 * force-completed by the operator, one aborted by the operator): every metric the Grafana dashboard
 * and the alert rules read exists in a live scrape, per-migration series go away when migrations
 * end, the notifications match the golden samples in docs/notifications/, and a real Prometheus
 * server scrapes the conductor and answers a query for the migration counter.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ObservabilityE2ETest {
  private static final long MIB = ApiCloud.MIB;
  private static final String CALM = "0b5e0000-0000-4000-8000-0000000000c1";
  private static final String FORCED = "0b5e0000-0000-4000-8000-0000000000f1";
  private static final String ABORTED = "0b5e0000-0000-4000-8000-0000000000a1";
  private static final Path GOLDEN = Notifications.GOLDEN;

  /** Event types no migration here publishes; the tests of reconciliation check them. */
  static final Set<String> CHECKED_ELSEWHERE =
      Set.of("instance.host_corrected", "migration.reconciled");

  private ApiCloud cloud;
  private Http api;
  private Notifications notifications;

  /** Sample names seen in any scrape of any service, while migrations ran and after. */
  private final Set<String> seen = new TreeSet<>();

  private final List<String> migrationUuids = new ArrayList<>();

  @BeforeAll
  void migrate() throws Exception {
    cloud =
        ApiCloud.start(
            List.of(
                new AllInOne.HostSpec(
                    "HostA",
                    ApiCloud.capacity(),
                    List.of(
                        ApiCloud.guest(CALM, "calm", "p1", 512, 5 * MIB, 0),
                        // Dirtying 3 GiB/s over a 1 GiB/s link: runs until someone acts.
                        ApiCloud.guest(FORCED, "forced", "p1", 1024, 3072 * MIB, 512 * MIB),
                        ApiCloud.guest(ABORTED, "aborted", "p1", 1024, 3072 * MIB, 512 * MIB))),
                new AllInOne.HostSpec("HostB", ApiCloud.capacity(), List.of())),
            Map.of(LibvirtOptions.COMPLETION_TIMEOUT.key(), "600"));
    api = cloud.as(ApiCloud.ADMIN);
    notifications = Notifications.listen(cloud.broker.url(), cloud.namespace);

    migrateLive(CALM);
    assertEquals("completed", finished(CALM).getString("status"));

    migrateLive(FORCED);
    JsonObject running = runningWithProgress(FORCED);
    Http.Response fc =
        api.post(
            "/servers/" + FORCED + "/migrations/" + running.getLong("id") + "/action",
            "{\"force_complete\": null}",
            "2.65");
    assertEquals(202, fc.status(), fc.body());
    assertEquals("completed", finished(FORCED).getString("status"));

    migrateLive(ABORTED);
    running = runningWithProgress(ABORTED);
    Http.Response ab =
        api.send(
            HttpRequest.newBuilder(
                    URI.create(
                        cloud.endpoint
                            + "/servers/"
                            + ABORTED
                            + "/migrations/"
                            + running.getLong("id")))
                .DELETE(),
            "2.65");
    assertEquals(202, ab.status(), ab.body());
    assertEquals("cancelled", finished(ABORTED).getString("status"));

    // The last event of each migration is migration.completed.
    Http.until(
        "migration.completed of all three",
        Duration.ofSeconds(15),
        () -> notifications.ofType("migration.completed").size() == 3);
    seen.addAll(scrapeAll().keySet());
  }

  @AfterAll
  void stop() throws Exception {
    try {
      if (notifications != null) notifications.close();
    } finally {
      if (cloud != null) cloud.close();
    }
  }

  // ------------------------------------------------------------------ metrics

  @Test
  void everyMetricOfTheDashboardAndAlertsExistsInALiveScrape() throws Exception {
    Set<String> used = new TreeSet<>();
    JsonObject dashboard =
        new JsonObject(
            Files.readString(Tools.ROOT.resolve("deploy/grafana/livemigrate-dashboard.json")));
    for (Object o : dashboard.getJsonArray("panels")) {
      JsonArray targets = ((JsonObject) o).getJsonArray("targets");
      if (targets == null) continue;
      for (Object t : targets) used.addAll(Tools.metricNames(((JsonObject) t).getString("expr")));
    }
    int fromDashboard = used.size();
    for (String line : Files.readAllLines(Tools.ROOT.resolve("deploy/prometheus/alerts.yml"))) {
      // Every expression in alerts.yml is a block scalar ("expr: |") or one line ("expr: ...").
      if (line.trim().startsWith("expr:")) {
        used.addAll(Tools.metricNames(line.trim().substring(5).replace("|", " ")));
      }
    }
    String rules = Files.readString(Tools.ROOT.resolve("deploy/prometheus/alerts.yml"));
    for (String block : rules.split("expr: \\|\n")) {
      if (block == rules) continue;
      StringBuilder expr = new StringBuilder();
      for (String l : block.split("\n")) {
        if (!l.startsWith("          ")) break;
        expr.append(l).append('\n');
      }
      used.addAll(Tools.metricNames(expr.toString()));
    }
    assertTrue(fromDashboard > 20, "the dashboard's expressions were read: " + used);
    assertTrue(used.contains("livemigrate_bus_parked_total"), "the rules were read: " + used);
    // "up" is written by Prometheus itself for every target, never by a service.
    used.remove("up");
    Set<String> missing = new TreeSet<>(used);
    missing.removeAll(seen);
    assertTrue(missing.isEmpty(), "not in any live scrape: " + missing + "\nseen: " + seen);
  }

  @Test
  void perMigrationSeriesEndWithTheirMigration() {
    assertTrue(
        seen.contains("livemigrate_migration_remaining_bytes"),
        "per-migration gauges were exported while the migrations ran");
    String conductor = scrape(cloud.cloud.conductor().opsPort());
    for (String uuid : migrationUuids) {
      assertFalse(conductor.contains(uuid), "series of ended migration " + uuid + " left behind");
    }
    assertTrue(conductor.contains("livemigrate_migration_phase_duration_seconds_bucket{"));
    assertTrue(
        conductor
            .lines()
            .anyMatch(
                l ->
                    l.startsWith("livemigrate_migration_phase_duration_seconds_count{")
                        && l.contains("phase=\"running\"")
                        && value(l) >= 3),
        "every migration observed in phase running");
    assertTrue(
        conductor
            .lines()
            .anyMatch(
                l ->
                    l.startsWith("livemigrate_hosts{")
                        && l.contains("state=\"up\"")
                        && l.endsWith(" 2.0")),
        "both hosts up");
  }

  // ------------------------------------------------------------------ notifications

  @Test
  void notificationsMatchTheGoldenSamples() throws Exception {
    Map<String, JsonObject> firstOfType = new TreeMap<>();
    for (JsonObject n : notifications.all()) firstOfType.putIfAbsent(n.getString("event_type"), n);
    if (System.getProperty("notifications.write") != null) {
      // Regenerates the samples from this run: mvn test -Dnotifications.write
      Files.createDirectories(GOLDEN);
      for (var e : firstOfType.entrySet()) {
        Files.writeString(
            GOLDEN.resolve(e.getKey() + ".json"), e.getValue().encodePrettily() + "\n");
      }
    }
    Set<String> golden = new TreeSet<>();
    try (Stream<Path> files = Files.list(GOLDEN)) {
      files
          .map(p -> p.getFileName().toString())
          .filter(f -> f.endsWith(".json"))
          .map(f -> f.substring(0, f.length() - 5))
          .filter(t -> !CHECKED_ELSEWHERE.contains(t))
          .forEach(golden::add);
    }
    assertEquals(golden, firstOfType.keySet(), "event types published vs golden samples");
    for (JsonObject n : notifications.all()) Notifications.assertMatchesSample(n);
  }

  @Test
  void notificationsOfOneMigrationAreOrderedBySeq() {
    Map<String, List<JsonObject>> byMigration = new HashMap<>();
    for (JsonObject n : notifications.all()) {
      byMigration
          .computeIfAbsent(
              n.getJsonObject("payload").getString("migration_uuid"), k -> new ArrayList<>())
          .add(n);
    }
    // Three here, four once the Prometheus test has run its migration.
    assertTrue(byMigration.size() >= 3, "migrations seen: " + byMigration.keySet());
    for (List<JsonObject> events : byMigration.values()) {
      for (int i = 1; i < events.size(); i++) {
        assertTrue(
            events.get(i).getLong("seq") > events.get(i - 1).getLong("seq"),
            "seq grows in publish order: " + events);
      }
      assertEquals("migration.accepted", events.get(0).getString("event_type"));
      assertEquals("migration.completed", events.get(events.size() - 1).getString("event_type"));
    }
    List<String> calm =
        byMigration
            .get(
                notifications.ofType("migration.completed").stream()
                    .filter(n -> CALM.equals(n.getJsonObject("payload").getString("instance_uuid")))
                    .findFirst()
                    .orElseThrow()
                    .getJsonObject("payload")
                    .getString("migration_uuid"))
            .stream()
            .map(n -> n.getString("event_type"))
            .filter(t -> !t.equals("migration.progress"))
            .toList();
    assertEquals(
        List.of(
            "migration.accepted",
            "instance.live_migration_pre.start",
            "instance.live_migration_pre.end",
            "instance.live_migration_post.start",
            "instance.live_migration_post_dest.start",
            "instance.live_migration_post_dest.end",
            "instance.live_migration_post.end",
            "migration.completed"),
        calm);
  }

  // ------------------------------------------------------------------ Prometheus end to end

  @Test
  void prometheusScrapesTheConductorAndAnswersForTheMigrationCounter() throws Exception {
    Path prometheus = Tools.require("prometheus");
    Path dir = Files.createTempDirectory("lm-prometheus");
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Files.writeString(
        dir.resolve("prometheus.yml"),
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            + "scrape_configs:\n"
            + "  - job_name: livemigrate-controller\n"
            + "    static_configs:\n"
            + "      - targets: ['127.0.0.1:"
            + cloud.cloud.conductor().opsPort()
            + "']\n");
    Process p =
        new ProcessBuilder(
                prometheus.toString(),
                "--config.file=" + dir.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=127.0.0.1:" + port,
                "--log.level=warn")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("prometheus.log").toFile())
            .start();
    try {
      String base = "http://127.0.0.1:" + port;
      Http.until(
          "Prometheus ready",
          Duration.ofSeconds(30),
          () -> {
            assertTrue(p.isAlive(), "Prometheus exited: " + log(dir));
            try {
              return Http.raw(base + "/-/ready").contains("Ready");
            } catch (IllegalStateException e) {
              return false;
            }
          });
      // One more migration while Prometheus watches: CALM goes back to HostA.
      migrateLive(CALM);
      assertEquals("completed", finished(CALM).getString("status"));
      double direct = completedCount(scrape(cloud.cloud.conductor().opsPort()));
      assertEquals(3.0, direct, "conductor's own counter after four migrations, one cancelled");
      String query =
          URLEncoder.encode(
              "sum(livemigrate_migrations_total{status=\"completed\",job=\"livemigrate-controller\"})",
              StandardCharsets.UTF_8);
      double[] got = {Double.NaN};
      Http.until(
          "Prometheus returns the completed-migration counter " + direct,
          Duration.ofSeconds(30),
          () -> {
            JsonObject r = new JsonObject(Http.raw(base + "/api/v1/query?query=" + query));
            JsonArray result = r.getJsonObject("data").getJsonArray("result");
            if (!"success".equals(r.getString("status")) || result.isEmpty()) return false;
            got[0] = Double.parseDouble(result.getJsonObject(0).getJsonArray("value").getString(1));
            return got[0] == direct;
          });
      assertEquals(direct, got[0]);
    } finally {
      p.destroy();
      if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    assertFalse(p.isAlive(), "Prometheus stopped");
  }

  private static String log(Path dir) {
    try {
      return Files.readString(dir.resolve("prometheus.log"));
    } catch (IOException e) {
      return e.toString();
    }
  }

  private static double value(String sampleLine) {
    return Double.parseDouble(sampleLine.substring(sampleLine.lastIndexOf(' ') + 1));
  }

  private static double completedCount(String exposition) {
    return exposition
        .lines()
        .filter(
            l ->
                l.startsWith("livemigrate_migrations_total{") && l.contains("status=\"completed\""))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }

  // ------------------------------------------------------------------ helpers

  private void migrateLive(String uuid) {
    Http.Response r =
        api.post(
            "/servers/" + uuid + "/action",
            "{\"os-migrateLive\": {\"host\": null, \"block_migration\": false}}",
            "2.30");
    assertEquals(202, r.status(), r.body());
  }

  private JsonObject latest(String uuid) {
    JsonArray l =
        api.get("/os-migrations?instance_uuid=" + uuid, "2.65").json().getJsonArray("migrations");
    return l.isEmpty() ? null : l.getJsonObject(0);
  }

  /** Waits until the migration runs and its progress gauges are exported; collects names. */
  private JsonObject runningWithProgress(String uuid) {
    JsonObject[] m = new JsonObject[1];
    Http.until(
        uuid + " running with progress gauges",
        Duration.ofSeconds(30),
        () -> {
          m[0] = latest(uuid);
          if (m[0] == null || !"running".equals(m[0].getString("status"))) return false;
          Map<String, String> all = scrapeAll();
          seen.addAll(all.keySet());
          return all.containsKey("livemigrate_migration_remaining_bytes")
              && all.get("livemigrate_migration_remaining_bytes").contains(m[0].getString("uuid"));
        });
    migrationUuids.add(m[0].getString("uuid"));
    return m[0];
  }

  private JsonObject finished(String uuid) {
    JsonObject[] m = new JsonObject[1];
    Http.until(
        "migration of " + uuid + " to finish",
        Duration.ofSeconds(60),
        () -> {
          m[0] = latest(uuid);
          String s = m[0] == null ? null : m[0].getString("status");
          return s != null && Set.of("completed", "failed", "cancelled", "error").contains(s);
        });
    if (!migrationUuids.contains(m[0].getString("uuid")))
      migrationUuids.add(m[0].getString("uuid"));
    return m[0];
  }

  /** Sample name to the scrape text lines naming it, over every service of the cloud. */
  private Map<String, String> scrapeAll() {
    List<Integer> ports = new ArrayList<>();
    ports.add(cloud.cloud.conductor().opsPort());
    ports.add(cloud.cloud.scheduler().opsPort());
    ports.add(cloud.cloud.agent("HostA").opsPort());
    ports.add(cloud.cloud.agent("HostB").opsPort());
    Map<String, String> byName = new HashMap<>();
    for (int port : ports) {
      String text = scrape(port);
      for (String line : text.split("\n")) {
        if (line.isBlank() || line.startsWith("#")) continue;
        String name = Tools.sampleNames(line).iterator().next();
        byName.merge(name, line, (a, b) -> a + "\n" + b);
      }
    }
    return byName;
  }

  private static String scrape(int port) {
    return Http.raw("http://127.0.0.1:" + port + "/metrics");
  }
}
