package io.livemigrate.conductor.api.keystone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.conductor.api.Auth;
import io.livemigrate.conductor.api.Authenticator;
import io.livemigrate.conductor.api.Authenticator.AuthenticationException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.ServerSocket;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Keystone authenticator against a fake Keystone in this JVM, on a clock the test moves:
 * caching (until the cache time, never past expiry, bounded), role and project mapping, the service
 * token's life, and every way Keystone can fail. The real Keystone is in KeystoneE2ETest (cli).
 */
class KeystoneAuthenticatorTest {
  static final String CHALLENGE_URI = "http://keystone.example:5000";

  /** A clock the test advances; the fake Keystone's expiries use it too. */
  static final class TestClock extends Clock {
    final AtomicLong ms = new AtomicLong(Instant.parse("2026-01-01T00:00:00Z").toEpochMilli());

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(ms.get());
    }

    void advance(long by) {
      ms.addAndGet(by);
    }
  }

  /** A user token the fake knows. */
  record Issued(String project, String user, List<String> roles, long expiresAtMs) {}

  Vertx vertx;
  HttpServer server;
  final TestClock clock = new TestClock();
  final Map<String, Issued> tokens = new ConcurrentHashMap<>();
  final Map<String, Long> serviceTokens = new ConcurrentHashMap<>();
  final AtomicInteger issues = new AtomicInteger();
  final AtomicInteger validations = new AtomicInteger();
  final AtomicBoolean failing = new AtomicBoolean();
  final AtomicBoolean holdValidations = new AtomicBoolean();
  final List<HttpServerRequest> held = new java.util.concurrent.CopyOnWriteArrayList<>();
  long serviceLifetimeMs = 3_600_000;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    server = vertx.createHttpServer().requestHandler(this::keystone).listen(0, "127.0.0.1").await();
  }

  @AfterEach
  void stop() {
    vertx.close().await();
  }

  void keystone(HttpServerRequest req) {
    if (failing.get()) {
      req.response().setStatusCode(500).end("{\"error\":{\"code\":500}}");
      return;
    }
    if (req.method().name().equals("POST") && req.path().equals("/v3/auth/tokens")) {
      req.body()
          .onSuccess(
              b -> {
                JsonObject user =
                    b.toJsonObject()
                        .getJsonObject("auth")
                        .getJsonObject("identity")
                        .getJsonObject("password")
                        .getJsonObject("user");
                if (!"svc-secret".equals(user.getString("password"))) {
                  req.response().setStatusCode(401).end("{\"error\":{\"code\":401}}");
                  return;
                }
                String id = "svc-" + issues.incrementAndGet();
                long exp = clock.millis() + serviceLifetimeMs;
                serviceTokens.put(id, exp);
                req.response()
                    .setStatusCode(201)
                    .putHeader("X-Subject-Token", id)
                    .end(
                        new JsonObject()
                            .put("token", new JsonObject().put("expires_at", iso(exp)))
                            .encode());
              });
      return;
    }
    if (req.method().name().equals("GET") && req.path().equals("/v3/auth/tokens")) {
      validations.incrementAndGet();
      if (holdValidations.get()) {
        held.add(req);
        return;
      }
      answerValidation(req);
      return;
    }
    req.response().setStatusCode(404).end();
  }

  void answerValidation(HttpServerRequest req) {
    Long svc = serviceTokens.get(String.valueOf(req.getHeader("X-Auth-Token")));
    if (svc == null || clock.millis() >= svc) {
      req.response().setStatusCode(401).end("{\"error\":{\"code\":401}}");
      return;
    }
    Issued t = tokens.get(String.valueOf(req.getHeader("X-Subject-Token")));
    if (t == null || clock.millis() >= t.expiresAtMs()) {
      req.response().setStatusCode(404).end("{\"error\":{\"code\":404}}");
      return;
    }
    JsonArray roles = new JsonArray();
    t.roles().forEach(r -> roles.add(new JsonObject().put("id", "r-" + r).put("name", r)));
    JsonObject token =
        new JsonObject()
            .put("expires_at", iso(t.expiresAtMs()))
            .put("user", new JsonObject().put("id", t.user()).put("name", t.user()))
            .put("roles", roles);
    if (t.project() != null) token.put("project", new JsonObject().put("id", t.project()));
    req.response().setStatusCode(200).end(new JsonObject().put("token", token).encode());
  }

  /** Keystone's form: 2026-01-01T00:00:00.000000Z */
  static String iso(long ms) {
    return java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")
        .withZone(ZoneOffset.UTC)
        .format(Instant.ofEpochMilli(ms));
  }

  KeystoneSettings settings(int port, String password, long cacheTimeS, int cacheSize) {
    return new KeystoneSettings(
        "http://127.0.0.1:" + port + "/v3",
        "Keystone uri=\"" + CHALLENGE_URI + "\"",
        "livemigrate",
        password,
        "service",
        "Default",
        "Default",
        cacheTimeS * 1000,
        cacheSize,
        2000,
        1);
  }

  KeystoneAuthenticator authenticator(long cacheTimeS, int cacheSize) {
    return new KeystoneAuthenticator(
        vertx, settings(server.actualPort(), "svc-secret", cacheTimeS, cacheSize), clock);
  }

  String user(String id, String project, long lifetimeMs, String... roles) {
    tokens.put(id, new Issued(project, "u-" + id, List.of(roles), clock.millis() + lifetimeMs));
    return id;
  }

  static Auth.Identity ok(Future<Auth.Identity> f) {
    try {
      return f.await(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("no answer in 10 s", e);
    }
  }

  static AuthenticationException refused(Future<Auth.Identity> f) {
    try {
      f.await(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("no answer in 10 s", e);
    } catch (Exception e) {
      return assertInstanceOf(AuthenticationException.class, e, String.valueOf(e));
    }
    throw new AssertionError("accepted");
  }

  @Test
  void rolesAndProjectBecomeTheIdentity() {
    KeystoneAuthenticator a = authenticator(300, 100);
    Auth.Identity admin = ok(a.authenticate(user("t-admin", "p-1", 3_600_000, "admin", "member")));
    assertEquals("p-1", admin.projectId());
    assertEquals("u-t-admin", admin.userId());
    assertTrue(admin.isAdmin());
    Auth.Identity member = ok(a.authenticate(user("t-member", "p-2", 3_600_000, "member")));
    assertFalse(member.isAdmin());
    assertEquals("p-2", member.projectId());
    // Any other role is a member, as Nova's default policy has it.
    Auth.Identity reader = ok(a.authenticate(user("t-reader", "p-2", 3_600_000, "Reader")));
    assertFalse(reader.isAdmin());
    assertTrue(reader.roles().contains("member"));
    // Role names are case-insensitive: "Admin" is the admin role.
    assertTrue(ok(a.authenticate(user("t-Admin", "p-3", 3_600_000, "Admin"))).isAdmin());
    // Not project-scoped: refused, as our policy is per project.
    AuthenticationException e =
        refused(a.authenticate(user("t-unscoped", null, 3_600_000, "admin")));
    assertEquals(401, e.status());
  }

  @Test
  void aValidTokenIsCachedForTheCacheTimeSoARevokedOneStopsWithinIt() {
    KeystoneAuthenticator a = authenticator(60, 100);
    String t = user("t1", "p", 3_600_000, "member");
    ok(a.authenticate(t));
    ok(a.authenticate(t));
    assertEquals(1, validations.get(), "the second call is answered from the cache");
    tokens.remove(t); // revoked in Keystone
    clock.advance(59_000);
    ok(a.authenticate(t));
    assertEquals(1, validations.get());
    clock.advance(1_000);
    AuthenticationException e = refused(a.authenticate(t));
    assertEquals(401, e.status());
    assertEquals("Keystone uri=\"" + CHALLENGE_URI + "\"", e.challenge());
    assertEquals(2, validations.get());
  }

  @Test
  void neverCachedPastTheTokensExpiry() {
    KeystoneAuthenticator a = authenticator(300, 100);
    String t = user("t1", "p", 10_000, "member");
    ok(a.authenticate(t));
    clock.advance(9_999);
    ok(a.authenticate(t));
    assertEquals(1, validations.get());
    clock.advance(1);
    assertEquals(401, refused(a.authenticate(t)).status());
    assertEquals(2, validations.get());
  }

  @Test
  void cacheTimeZeroAsksKeystoneEveryTime() {
    KeystoneAuthenticator a = authenticator(0, 100);
    String t = user("t1", "p", 3_600_000, "member");
    ok(a.authenticate(t));
    ok(a.authenticate(t));
    assertEquals(2, validations.get());
    assertEquals(0, a.cached());
  }

  @Test
  void theCacheIsBoundedAndDropsTheLeastRecentlyUsed() {
    KeystoneAuthenticator a = authenticator(300, 2);
    String t1 = user("t1", "p", 3_600_000, "member");
    String t2 = user("t2", "p", 3_600_000, "member");
    String t3 = user("t3", "p", 3_600_000, "member");
    ok(a.authenticate(t1));
    ok(a.authenticate(t2));
    ok(a.authenticate(t1)); // t1 is now the most recently used
    ok(a.authenticate(t3)); // evicts t2
    assertEquals(2, a.cached());
    assertEquals(3, validations.get());
    ok(a.authenticate(t1));
    assertEquals(3, validations.get());
    ok(a.authenticate(t2));
    assertEquals(4, validations.get());
  }

  @Test
  void theServiceTokenIsRenewedBeforeItExpiresAndWhenRejected() {
    serviceLifetimeMs = 100_000;
    KeystoneAuthenticator a = authenticator(0, 100);
    String t = user("t1", "p", 3_600_000, "member");
    ok(a.authenticate(t));
    ok(a.authenticate(t));
    assertEquals(1, issues.get(), "one service token for both");
    // Renewed half-way through its life, before Keystone would refuse it.
    clock.advance(50_000);
    ok(a.authenticate(t));
    assertEquals(2, issues.get());
    // Revoked behind our back: Keystone says 401; a new service token, and the call succeeds.
    serviceTokens.clear();
    ok(a.authenticate(t));
    assertEquals(3, issues.get());
  }

  @Test
  void concurrentValidationsOfOneTokenShareOneRequest() {
    KeystoneAuthenticator a = authenticator(300, 100);
    String t = user("t1", "p", 3_600_000, "member");
    ok(a.authenticate(user("warm", "p", 3_600_000, "member"))); // service token issued
    holdValidations.set(true);
    Future<Auth.Identity> f1 = a.authenticate(t);
    Future<Auth.Identity> f2 = a.authenticate(t);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (held.isEmpty() && System.nanoTime() < end) Thread.onSpinWait();
    holdValidations.set(false);
    held.forEach(this::answerValidation);
    assertEquals("p", ok(f1).projectId());
    assertEquals("p", ok(f2).projectId());
    assertEquals(2, validations.get(), "warm-up + one for both calls");
  }

  @Test
  void anUnknownOrMalformedTokenIs401WithTheChallenge() {
    KeystoneAuthenticator a = authenticator(300, 100);
    AuthenticationException e = refused(a.authenticate("no-such-token"));
    assertEquals(401, e.status());
    assertEquals("Keystone uri=\"" + CHALLENGE_URI + "\"", e.challenge());
    assertEquals(1, validations.get());
    // Not even sent: empty, too long, or not header-safe.
    assertEquals(401, refused(a.authenticate(null)).status());
    assertEquals(401, refused(a.authenticate("")).status());
    assertEquals(401, refused(a.authenticate("x".repeat(9000))).status());
    assertEquals(401, refused(a.authenticate("bad token\u00e9")).status());
    assertEquals(1, validations.get());
  }

  @Test
  void keystoneUnreachableFailingOrRefusingUsIs503() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    KeystoneAuthenticator gone =
        new KeystoneAuthenticator(vertx, settings(closed, "svc-secret", 300, 100), clock);
    AuthenticationException e = refused(gone.authenticate("some-token"));
    assertEquals(503, e.status());
    assertEquals("The Keystone service is temporarily unavailable.", e.getMessage());
    // Our own credentials refused: not the caller's fault, and no open door either.
    KeystoneAuthenticator wrong =
        new KeystoneAuthenticator(vertx, settings(server.actualPort(), "nope", 300, 100), clock);
    assertEquals(503, refused(wrong.authenticate(user("t1", "p", 3_600_000, "member"))).status());
    // Keystone failing: 503; a token cached before keeps working (as keystonemiddleware).
    KeystoneAuthenticator a = authenticator(300, 100);
    String cached = user("t2", "p", 3_600_000, "member");
    ok(a.authenticate(cached));
    failing.set(true);
    assertEquals(503, refused(a.authenticate(user("t3", "p", 3_600_000, "member"))).status());
    ok(a.authenticate(cached));
    failing.set(false);
    ok(a.authenticate("t3"));
  }

  @Test
  void localTokensComeFirstAndNeedNoKeystone() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    Authenticator chain =
        Authenticator.firstOf(
            List.of(
                Auth.load("local-admin", null),
                new KeystoneAuthenticator(vertx, settings(closed, "svc-secret", 300, 100), clock)));
    assertTrue(ok(chain.authenticate("local-admin")).isAdmin());
    // Unknown locally, so Keystone is asked: it is down, so 503, not 401 and not accepted.
    assertEquals(503, refused(chain.authenticate("other")).status());
    Authenticator up =
        Authenticator.firstOf(List.of(Auth.load("local-admin", null), authenticator(300, 100)));
    assertEquals("p", ok(up.authenticate(user("t1", "p", 3_600_000, "member"))).projectId());
    AuthenticationException e = refused(up.authenticate("nobody"));
    assertEquals(401, e.status());
    assertEquals("Keystone uri=\"" + CHALLENGE_URI + "\"", e.challenge());
  }

  @Test
  void settingsFromConfig() {
    var c =
        io.livemigrate.common.config.Config.defaults(
            Map.of(
                "keystone_authtoken.auth_url", "http://controller:5000/",
                "keystone_authtoken.username", "livemigrate",
                "keystone_authtoken.password", "pw"));
    KeystoneSettings s = KeystoneSettings.from(c);
    assertEquals("http://controller:5000/v3", s.identityUrl());
    assertEquals("Keystone uri=\"http://controller:5000/\"", s.challenge());
    assertEquals(300_000, s.cacheTimeMs());
    assertEquals("service", s.projectName());
    assertFalse(s.toString().contains("pw"));
    assertEquals(
        "http://h/identity/v3",
        KeystoneSettings.from(
                io.livemigrate.common.config.Config.defaults(
                    Map.of(
                        "keystone_authtoken.auth_url", "http://h/identity/v3",
                        "keystone_authtoken.username", "u",
                        "keystone_authtoken.password", "p")))
            .identityUrl());
    assertEquals(
        null, KeystoneSettings.from(io.livemigrate.common.config.Config.defaults(Map.of())));
    IllegalArgumentException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class,
            () ->
                KeystoneSettings.from(
                    io.livemigrate.common.config.Config.defaults(
                        Map.of("keystone_authtoken.auth_url", "ftp://x"))));
    assertTrue(
        e.getMessage().contains("username") && e.getMessage().contains("http(s)"), e.getMessage());
  }
}
