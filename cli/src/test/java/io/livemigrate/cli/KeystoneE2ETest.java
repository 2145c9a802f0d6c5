package io.livemigrate.cli;

import static io.livemigrate.cli.StockClientsE2ETest.STUCK1;
import static io.livemigrate.cli.StockClientsE2ETest.STUCK2;
import static io.livemigrate.cli.StockClientsE2ETest.VM1;
import static io.livemigrate.cli.StockClientsE2ETest.VM2;
import static io.livemigrate.cli.StockClientsE2ETest.cli;
import static io.livemigrate.cli.StockClientsE2ETest.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.cli.NovaApiRobustnessTest.Route;
import io.livemigrate.cli.StockClientsE2ETest.Run;
import io.livemigrate.common.config.KeystoneOptions;
import io.livemigrate.common.config.LibvirtOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import picocli.CommandLine;

/**
 * The API inside a Keystone-authenticated cloud: a real Keystone (Debian's packages under uwsgi,
 * SQLite, fernet; {@link KeystoneFixture}), the API registered with {@code livemigrate setup
 * keystone}, and the unmodified stock {@code openstack} and {@code nova} CLIs with password auth
 * only (OS_AUTH_URL, OS_USERNAME, ...; the compute endpoint comes from the catalog). Then the
 * authorization matrix with Keystone tokens, a revoked and an expired token, and Keystone stopped
 * and started again. On CI a missing Keystone or CLI fails the test; elsewhere it skips.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KeystoneE2ETest {
  static final String PASSWORD = "user-secret";
  static final String SERVICE_PASSWORD = "service-secret";

  /** Short, so revocation shows within the test; the default is 300 s. */
  static final int CACHE_TIME_S = 2;

  KeystoneFixture keystone;
  ApiCloud cloud;
  HttpServer images;
  Http api;
  String memberProject;
  String setupFirst;
  String setupAgain;

  @BeforeAll
  void start() throws Exception {
    StockClientsE2ETest.requireClis();
    keystone = KeystoneFixture.start();
    String adminProject =
        keystone
            .admin("GET", "/projects?name=admin", null, 200)
            .getJsonArray("projects")
            .getJsonObject(0)
            .getString("id");
    memberProject = keystone.createProject("demo");
    keystone.createUser("olivia", PASSWORD, adminProject, "admin");
    keystone.createUser("alice", PASSWORD, memberProject, "member");
    Map<String, String> c = keystoneConfig(keystone, SERVICE_PASSWORD, CACHE_TIME_S);
    c.put(LibvirtOptions.COMPLETION_TIMEOUT.key(), "600");
    // vm1 and stuck1 belong to alice's project.
    cloud = ApiCloud.start(StockClientsE2ETest.adminGuideHosts(memberProject, "p2"), c);
    api = cloud.as(ApiCloud.ADMIN);
    setupFirst = setupKeystone();
    setupAgain = setupKeystone();
    images = imageService();
    keystone.registerService("image", "glance", "http://127.0.0.1:" + images.actualPort() + "/");
  }

  @AfterAll
  void stop() throws Exception {
    if (images != null) images.close().await(10, TimeUnit.SECONDS);
    if (cloud != null) cloud.close();
    if (keystone != null) keystone.close();
  }

  String setupKeystone() {
    return setupKeystone(keystone, cloud.endpoint, SERVICE_PASSWORD);
  }

  /** {@code livemigrate setup keystone} as an operator runs it, with the bootstrap admin. */
  static String setupKeystone(KeystoneFixture keystone, String endpoint, String servicePassword) {
    CommandLine cl = new CommandLine(new Main());
    SetupKeystone.Keystone cmd =
        cl.getSubcommands().get("setup").getSubcommands().get("keystone").getCommand();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
    cmd.err = cmd.out;
    int exit =
        cl.execute(
            "setup",
            "keystone",
            "--os-auth-url",
            keystone.url(),
            "--os-username",
            "admin",
            "--os-password",
            KeystoneFixture.ADMIN_PASSWORD,
            "--os-project-name",
            "admin",
            "--service-password",
            servicePassword,
            "--public-url",
            endpoint);
    String text = out.toString(StandardCharsets.UTF_8);
    assertEquals(0, exit, text);
    return text;
  }

  /** [keystone_authtoken] for the cloud: the service user {@code setup keystone} creates. */
  static Map<String, String> keystoneConfig(
      KeystoneFixture keystone, String servicePassword, int cacheTimeS) {
    Map<String, String> c = new HashMap<>();
    // Nova's usual form: the unversioned Keystone URL.
    String root = keystone.url().replaceAll("/v3$", "");
    c.put(KeystoneOptions.KEYSTONE_AUTH_URL.key(), root);
    c.put(KeystoneOptions.KEYSTONE_WWW_AUTHENTICATE_URI.key(), root);
    c.put(KeystoneOptions.KEYSTONE_USERNAME.key(), "livemigrate");
    c.put(KeystoneOptions.KEYSTONE_PASSWORD.key(), servicePassword);
    c.put(KeystoneOptions.KEYSTONE_PROJECT_NAME.key(), "service");
    c.put(KeystoneOptions.KEYSTONE_TOKEN_CACHE_TIME.key(), Integer.toString(cacheTimeS));
    return c;
  }

  /**
   * The cloud's image service, which {@code openstack server list} insists on finding in a Keystone
   * catalog (for image names) before it lists anything: a stand-in with Glance's version document
   * and no images. It is not what this test is about; Keystone and our API are real.
   */
  HttpServer imageService() throws Exception {
    return cloud
        .vertx
        .createHttpServer()
        .requestHandler(
            req -> {
              String base = "http://127.0.0.1:" + req.connection().localAddress().port();
              String path = req.path();
              if (path.equals("/") || path.equals("/versions")) {
                req.response()
                    .setStatusCode(300)
                    .putHeader("Content-Type", "application/json")
                    .end(
                        new JsonObject()
                            .put(
                                "versions",
                                new JsonArray()
                                    .add(
                                        new JsonObject()
                                            .put("id", "v2.15")
                                            .put("status", "CURRENT")
                                            .put(
                                                "links",
                                                new JsonArray()
                                                    .add(
                                                        new JsonObject()
                                                            .put("rel", "self")
                                                            .put("href", base + "/v2/")))))
                            .encode());
              } else if (path.equals("/v2/images")) {
                req.response()
                    .putHeader("Content-Type", "application/json")
                    .end(
                        "{\"images\":[],\"first\":\"/v2/images\",\"schema\":\"/v2/schemas/images\"}");
              } else {
                req.response().setStatusCode(404).end();
              }
            })
        .listen(0, "127.0.0.1")
        .await(10, TimeUnit.SECONDS);
  }

  /** Password auth only, as in a cloud's openrc: no endpoint, no token. */
  Map<String, String> openrc(String user, String project) {
    return Map.of(
        "OS_AUTH_URL",
        keystone.url(),
        "OS_USERNAME",
        user,
        "OS_PASSWORD",
        PASSWORD,
        "OS_PROJECT_NAME",
        project,
        "OS_USER_DOMAIN_NAME",
        "Default",
        "OS_PROJECT_DOMAIN_NAME",
        "Default",
        "OS_IDENTITY_API_VERSION",
        "3");
  }

  Run admin(boolean nova, String... args) throws Exception {
    return ok(cli(openrc("olivia", "admin"), nova, args), args);
  }

  Http.Response call(String token, Route rt) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(cloud.endpoint + rt.path()))
            .method(
                rt.method(),
                rt.body() == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(rt.body()));
    if (rt.body() != null) b.header("Content-Type", "application/json");
    return new Http(cloud.endpoint, token).send(b, rt.version());
  }

  static final Route LIST = new Route("GET", "/servers", null, null, false);

  void assertUnauthorized(Http.Response r) {
    assertEquals(401, r.status(), r.body());
    assertEquals(
        "Keystone uri=\"" + keystone.url().replaceAll("/v3$", "") + "\"",
        r.headers().firstValue("WWW-Authenticate").orElse(null));
    assertEquals(401, r.json().getJsonObject("unauthorized").getInteger("code"), r.body());
  }

  @Test
  @Order(1)
  void setupKeystoneRegistersTheApiAndIsIdempotent() throws Exception {
    assertTrue(setupFirst.contains("user livemigrate: created"), setupFirst);
    assertTrue(setupFirst.contains("service livemigrate (compute): created"), setupFirst);
    assertTrue(setupFirst.contains("endpoint public " + cloud.endpoint + ": created"), setupFirst);
    assertFalse(setupAgain.contains("created"), setupAgain);
    assertFalse(setupAgain.contains("updated"), setupAgain);
    List<String> computeUrls = new ArrayList<>();
    for (Object o : keystone.catalog()) {
      JsonObject s = (JsonObject) o;
      if (!"compute".equals(s.getString("type"))) continue;
      for (Object e : s.getJsonArray("endpoints"))
        computeUrls.add(((JsonObject) e).getString("url"));
    }
    assertEquals(List.of(cloud.endpoint, cloud.endpoint, cloud.endpoint), computeUrls);
  }

  @Test
  @Order(2)
  void everyAdminRouteIsForbiddenToTheMemberWithKeystoneTokens() throws Exception {
    String member = keystone.token("alice", PASSWORD, "demo");
    String admin = keystone.token("olivia", PASSWORD, "admin");
    List<String> problems = new ArrayList<>();
    for (Route rt : NovaApiRobustnessTest.authorizationMatrix()) {
      for (String who : List.of("none", "wrong", "member", "admin")) {
        String token =
            switch (who) {
              case "none" -> null;
              case "wrong" -> "gAAAAABnot-a-keystone-token";
              case "member" -> member;
              default -> admin;
            };
        Http.Response r = call(token, rt);
        Set<Integer> allowed =
            switch (who) {
              case "none", "wrong" -> Set.of(401);
              case "member" -> rt.adminOnly() ? Set.of(403) : Set.of(200);
              default -> rt.adminOnly() ? Set.of(200, 400, 404) : Set.of(200);
            };
        String where = who + " " + rt.method() + " " + rt.path() + " -> " + r.status();
        if (!allowed.contains(r.status())) problems.add(where + " expected " + allowed);
        if (r.status() == 401 && r.headers().firstValue("WWW-Authenticate").isEmpty()) {
          problems.add(where + " without WWW-Authenticate");
        }
      }
    }
    assertEquals(List.of(), problems);
    assertUnauthorized(call(null, LIST));
    // The member sees its project's servers only, and the stock CLI reports Nova's 403.
    JsonArray mine =
        new Http(cloud.endpoint, member).get("/servers").json().getJsonArray("servers");
    assertEquals(2, mine.size(), mine.encode());
    Run refused = cli(openrc("alice", "demo"), true, "live-migration", VM1, "HostC");
    assertEquals(1, refused.exit(), refused.all());
    assertTrue(refused.all().contains("HTTP 403"), refused.all());
    assertEquals("ACTIVE", StockClientsE2ETest.status(api, VM1));
  }

  @Test
  @Order(3)
  void adminGuideWorkflowWithPasswordAuth() throws Exception {
    assertTrue(admin(false, "server", "list").out().contains("vm1"));
    assertEquals(
        "HostB",
        admin(false, "server", "show", "vm1", "-f", "value", "-c", "OS-EXT-SRV-ATTR:host")
            .out()
            .trim());
    String services = admin(false, "compute", "service", "list").out();
    assertTrue(services.contains("HostC") && services.contains("nova-compute"), services);
    String hostTable = admin(false, "host", "show", "HostC").out();
    assertTrue(hostTable.contains("(total)"), hostTable);
    // To a named host, then by the scheduler's choice.
    admin(
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
    assertEquals("HostC", StockClientsE2ETest.host(api, VM1));
    admin(true, "live-migration", VM2);
    Http.until(
        "vm2 ACTIVE elsewhere",
        Duration.ofSeconds(30),
        () ->
            "ACTIVE".equals(StockClientsE2ETest.status(api, VM2))
                && !"HostB".equals(StockClientsE2ETest.host(api, VM2)));
    assertEquals("completed", StockClientsE2ETest.latestMigration(api, VM2).getString("status"));
    String list =
        admin(false, "--os-compute-api-version", "2.59", "server", "migration", "list").out();
    assertTrue(list.contains(VM1) && list.contains(VM2) && list.contains("completed"), list);
    // A migration that never converges: watched, then aborted.
    admin(true, "live-migration", STUCK1, "HostC");
    String id = Long.toString(StockClientsE2ETest.awaitRunning(api, STUCK1).getLong("id"));
    String running = admin(true, "server-migration-list", STUCK1).out();
    assertTrue(running.contains("running") && running.contains("HostC"), running);
    String show =
        admin(false, "--os-compute-api-version", "2.24", "server", "migration", "show", STUCK1, id)
            .out();
    assertTrue(show.contains("memory_processed_bytes") || show.contains("Memory Processed"), show);
    admin(true, "live-migration-abort", STUCK1, id);
    Http.until(
        "stuck1 ACTIVE after abort",
        Duration.ofSeconds(30),
        () -> "ACTIVE".equals(StockClientsE2ETest.status(api, STUCK1)));
    assertEquals("HostB", StockClientsE2ETest.host(api, STUCK1));
    assertEquals("cancelled", StockClientsE2ETest.latestMigration(api, STUCK1).getString("status"));
    // And one forced to complete.
    admin(true, "live-migration", STUCK2);
    String id2 = Long.toString(StockClientsE2ETest.awaitRunning(api, STUCK2).getLong("id"));
    admin(
        false,
        "--os-compute-api-version",
        "2.22",
        "server",
        "migration",
        "force",
        "complete",
        STUCK2,
        id2);
    Http.until(
        "stuck2 ACTIVE after force-complete",
        Duration.ofSeconds(60),
        () -> "ACTIVE".equals(StockClientsE2ETest.status(api, STUCK2)));
    assertEquals("completed", StockClientsE2ETest.latestMigration(api, STUCK2).getString("status"));
    assertNotEquals("HostB", StockClientsE2ETest.host(api, STUCK2));
  }

  @Test
  @Order(4)
  void aRevokedTokenIsRefusedWithinTheCacheTime() throws Exception {
    String t = keystone.token("alice", PASSWORD, "demo");
    assertEquals(200, call(t, LIST).status());
    keystone.revoke(t);
    long revoked = System.nanoTime();
    Http.until(
        "the revoked token refused", Duration.ofSeconds(30), () -> call(t, LIST).status() == 401);
    long tookMs = (System.nanoTime() - revoked) / 1_000_000;
    // Within the cache time, plus a loaded machine's validation round trips.
    assertTrue(tookMs <= (CACHE_TIME_S + 10) * 1000L, "refused after " + tookMs + " ms");
    assertUnauthorized(call(t, LIST));
  }

  @Test
  @Order(5)
  void keystoneDownIs503AndTheApiServesAgainWhenItReturns() throws Exception {
    String unseen = keystone.token("alice", PASSWORD, "demo");
    keystone.stop();
    Http.Response down = call(unseen, LIST);
    assertEquals(503, down.status(), down.body());
    assertEquals(
        "The Keystone service is temporarily unavailable.",
        down.json().getJsonObject("serviceUnavailable").getString("message"),
        down.body());
    assertEquals(1, down.json().size(), down.body());
    // The token file and admin token do not depend on Keystone.
    assertEquals(200, api.get("/servers").status());
    // Back, now with tokens that expire in 10 s.
    keystone.start(10);
    Http.until(
        "the API accepts Keystone tokens again",
        Duration.ofSeconds(60),
        () -> call(unseen, LIST).status() == 200);
    JsonObject shortLived = keystone.tokenWithBody("alice", PASSWORD, "demo");
    String t = shortLived.getString("id");
    assertEquals(200, call(t, LIST).status());
    Http.until(
        "the expired token refused", Duration.ofSeconds(60), () -> call(t, LIST).status() == 401);
    assertFalse(
        Instant.now().isBefore(Instant.parse(shortLived.getString("expires_at"))),
        "refused before its expiry " + shortLived.getString("expires_at"));
    assertUnauthorized(call(t, LIST));
  }
}
