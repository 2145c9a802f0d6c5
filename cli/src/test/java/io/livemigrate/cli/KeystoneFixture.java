package io.livemigrate.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real Keystone (Debian's keystone package, 22.x) for one test class: SQLite and fernet keys in a
 * temporary directory, bootstrapped with an admin, served by uwsgi on 127.0.0.1 at a free port.
 * Missing packages skip the test on a developer machine and fail it on CI (env CI=true), where
 * {@code .ci/run} installs them. {@link #stop()} and {@link #start} stop and restart the server on
 * the same port and data (to take Keystone away mid-test); {@link #close()} removes everything.
 *
 * <p>Admin calls the tests need (users, projects, roles, revocation) go to Keystone's REST API
 * directly; what the product does is tested through {@code livemigrate setup keystone}.
 */
final class KeystoneFixture implements AutoCloseable {
  static final String ADMIN_PASSWORD = "bootstrap-secret";
  static final Path KEYSTONE_MANAGE = Path.of("/usr/bin/keystone-manage");
  static final Path WSGI = Path.of("/usr/bin/keystone-wsgi-public");
  static final Path UWSGI = Path.of("/usr/bin/uwsgi");
  static final Path UWSGI_PYTHON3 = Path.of("/usr/lib/uwsgi/plugins/python3_plugin.so");

  /**
   * A client per request: uwsgi's http-socket closes every connection after one answer, and the
   * JDK's client still sometimes sent the next request on a pooled one ("header parser received no
   * bytes").
   */
  private static HttpClient http() {
    return HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5))
        .build();
  }

  final Path dir;
  final int port;
  private Process uwsgi;
  private String adminToken;

  private KeystoneFixture(Path dir, int port) {
    this.dir = dir;
    this.port = port;
  }

  /** Skips (aborts) off CI, fails on CI, when Debian's keystone or uwsgi's python3 is missing. */
  static void requireInstalled() {
    List<String> missing = new ArrayList<>();
    for (Path p : List.of(KEYSTONE_MANAGE, WSGI, UWSGI, UWSGI_PYTHON3)) {
      if (!Files.exists(p)) missing.add(p.toString());
    }
    if (missing.isEmpty()) return;
    String why =
        "Keystone is not installed (missing "
            + missing
            + "; apt-get install keystone uwsgi-plugin-python3, as .ci/run does)";
    if ("true".equals(System.getenv("CI"))) Assertions.fail(why);
    Assumptions.abort(why + "; skipped off CI");
  }

  /** Installs the database, keys and admin, and serves it; about 20 s on two cores. */
  static KeystoneFixture start() throws Exception {
    requireInstalled();
    Path dir = Files.createTempDirectory("lm-keystone");
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    KeystoneFixture k = new KeystoneFixture(dir, port);
    try {
      k.writeConfig(3600);
      String conf = dir.resolve("keystone.conf").toString();
      String user = System.getProperty("user.name");
      k.manage("--config-file", conf, "db_sync");
      k.walMode();
      k.manage(
          "--config-file", conf, "fernet_setup", "--keystone-user", user, "--keystone-group", user);
      k.manage(
          "--config-file",
          conf,
          "credential_setup",
          "--keystone-user",
          user,
          "--keystone-group",
          user);
      String url = k.url() + "/";
      k.manage(
          "--config-file",
          conf,
          "bootstrap",
          "--bootstrap-password",
          ADMIN_PASSWORD,
          "--bootstrap-admin-url",
          url,
          "--bootstrap-internal-url",
          url,
          "--bootstrap-public-url",
          url,
          "--bootstrap-region-id",
          "RegionOne");
      k.start(3600);
      return k;
    } catch (Exception | AssertionError e) {
      k.close();
      throw e;
    }
  }

  /** Keystone's v3 URL: http://127.0.0.1:PORT/v3 */
  String url() {
    return "http://127.0.0.1:" + port + "/v3";
  }

  /** Serves again (same port, data and keys) with tokens that live {@code tokenLifetimeS}. */
  void start(int tokenLifetimeS) throws Exception {
    writeConfig(tokenLifetimeS);
    Files.writeString(
        dir.resolve("uwsgi.ini"),
        String.join(
            "\n",
            "[uwsgi]",
            "plugins = python3",
            "http-socket = 127.0.0.1:" + port,
            "wsgi-file = " + WSGI,
            "env = OS_KEYSTONE_CONFIG_DIR=" + dir,
            // One worker: with two, SQLite answered "database is locked" to writes (a 500).
            "processes = 1",
            "threads = 1",
            "master = true",
            "lazy-apps = true",
            "die-on-term = true",
            "buffer-size = 65535",
            // http-socket speaks no keep-alive: tell clients not to reuse the connection.
            "add-header = Connection: close",
            ""));
    ProcessBuilder pb =
        new ProcessBuilder(UWSGI.toString(), "--ini", dir.resolve("uwsgi.ini").toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("uwsgi.log").toFile()));
    cleanEnv(pb.environment());
    uwsgi = pb.start();
    // A JVM that exits without close() (a failed run) takes its Keystone with it.
    Process started = uwsgi;
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  started.descendants().forEach(ProcessHandle::destroyForcibly);
                  started.destroyForcibly();
                }));
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < end) {
      if (!uwsgi.isAlive()) {
        throw new IllegalStateException("uwsgi exited at start:\n" + tail("uwsgi.log"));
      }
      try {
        HttpResponse<String> r = send("GET", "", null, null);
        if (r.statusCode() == 200) {
          adminToken = token("admin", ADMIN_PASSWORD, "admin");
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("Keystone did not answer in 90 s:\n" + tail("uwsgi.log"));
  }

  /** Stops the server (SIGTERM to uwsgi, then its workers are gone); the data stays. */
  void stop() throws Exception {
    if (uwsgi == null) return;
    List<ProcessHandle> all = new ArrayList<>(uwsgi.descendants().toList());
    uwsgi.destroy();
    if (!uwsgi.waitFor(20, TimeUnit.SECONDS)) uwsgi.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    for (ProcessHandle h : all) {
      if (h.isAlive()) h.destroyForcibly();
    }
    uwsgi = null;
  }

  @Override
  public void close() throws Exception {
    stop();
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  // ------------------------------------------------------------ admin calls

  /** A project-scoped token for a user of the Default domain (password auth). */
  String token(String user, String password, String project) throws Exception {
    return tokenWithBody(user, password, project).getString("id");
  }

  /** {"id": token, "expires_at": ...} */
  JsonObject tokenWithBody(String user, String password, String project) throws Exception {
    JsonObject domain = new JsonObject().put("id", "default");
    JsonObject body =
        new JsonObject()
            .put(
                "auth",
                new JsonObject()
                    .put(
                        "identity",
                        new JsonObject()
                            .put("methods", new JsonArray().add("password"))
                            .put(
                                "password",
                                new JsonObject()
                                    .put(
                                        "user",
                                        new JsonObject()
                                            .put("name", user)
                                            .put("domain", domain)
                                            .put("password", password))))
                    .put(
                        "scope",
                        new JsonObject()
                            .put(
                                "project",
                                new JsonObject().put("name", project).put("domain", domain))));
    HttpResponse<String> r = send("POST", "/auth/tokens?nocatalog", body, null);
    if (r.statusCode() != 201) {
      throw new IllegalStateException("token for " + user + ": HTTP " + r.statusCode() + r.body());
    }
    return new JsonObject()
        .put("id", r.headers().firstValue("X-Subject-Token").orElseThrow())
        .put("expires_at", new JsonObject(r.body()).getJsonObject("token").getString("expires_at"));
  }

  String createProject(String name) throws Exception {
    return admin(
            "POST",
            "/projects",
            new JsonObject()
                .put("project", new JsonObject().put("name", name).put("domain_id", "default")),
            201)
        .getJsonObject("project")
        .getString("id");
  }

  /** A user of the Default domain with {@code role} on {@code projectId}; returns its id. */
  String createUser(String name, String password, String projectId, String role) throws Exception {
    String id =
        admin(
                "POST",
                "/users",
                new JsonObject()
                    .put(
                        "user",
                        new JsonObject()
                            .put("name", name)
                            .put("password", password)
                            .put("domain_id", "default")),
                201)
            .getJsonObject("user")
            .getString("id");
    String roleId =
        admin("GET", "/roles?name=" + role, null, 200)
            .getJsonArray("roles")
            .getJsonObject(0)
            .getString("id");
    admin("PUT", "/projects/" + projectId + "/users/" + id + "/roles/" + roleId, null, 204);
    return id;
  }

  /** Registers a service with one public endpoint in RegionOne. */
  void registerService(String type, String name, String url) throws Exception {
    String sid =
        admin(
                "POST",
                "/services",
                new JsonObject()
                    .put("service", new JsonObject().put("type", type).put("name", name)),
                201)
            .getJsonObject("service")
            .getString("id");
    for (String iface : List.of("public", "internal", "admin")) {
      admin(
          "POST",
          "/endpoints",
          new JsonObject()
              .put(
                  "endpoint",
                  new JsonObject()
                      .put("service_id", sid)
                      .put("interface", iface)
                      .put("region_id", "RegionOne")
                      .put("url", url)),
          201);
    }
  }

  /** Revokes a token (DELETE /v3/auth/tokens). */
  void revoke(String token) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(url() + "/auth/tokens"))
            .timeout(Duration.ofSeconds(30))
            .header("X-Auth-Token", adminToken)
            .header("X-Subject-Token", token)
            .DELETE();
    int s = http().send(b.build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    if (s != 204) throw new IllegalStateException("revoke: HTTP " + s);
  }

  /** The catalog as the admin sees it: {@code GET /v3/auth/catalog}. */
  JsonArray catalog() throws Exception {
    return admin("GET", "/auth/catalog", null, 200).getJsonArray("catalog");
  }

  JsonObject admin(String method, String path, JsonObject body, int expected) throws Exception {
    HttpResponse<String> r = send(method, path, body, adminToken);
    if (r.statusCode() != expected) {
      throw new IllegalStateException(
          method + " " + path + ": HTTP " + r.statusCode() + " " + r.body());
    }
    return r.body() == null || r.body().isBlank() ? new JsonObject() : new JsonObject(r.body());
  }

  private HttpResponse<String> send(String method, String path, JsonObject body, String token)
      throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(url() + path))
            .timeout(Duration.ofSeconds(30))
            .header("Accept", "application/json");
    if (token != null) b.header("X-Auth-Token", token);
    if (body != null) b.header("Content-Type", "application/json");
    b.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body.encode()));
    return http().send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  // ------------------------------------------------------------ plumbing

  private void writeConfig(int tokenLifetimeS) throws IOException {
    Path keys = dir.resolve("fernet-keys");
    Files.writeString(
        dir.resolve("keystone.conf"),
        String.join(
            "\n",
            "[DEFAULT]",
            "log_file = " + dir.resolve("keystone.log"),
            "[database]",
            "connection = sqlite:///" + dir.resolve("keystone.db"),
            "[token]",
            "provider = fernet",
            "expiration = " + tokenLifetimeS,
            "[fernet_tokens]",
            "key_repository = " + keys,
            "[fernet_receipts]",
            "key_repository = " + keys,
            "[credential]",
            "key_repository = " + dir.resolve("credential-keys"),
            ""));
  }

  /**
   * SQLite's write-ahead log: without it a read transaction Keystone left open blocked every write
   * ("database is locked" after 5 s, a 500), even with a single uwsgi worker.
   */
  private void walMode() throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(
                "/usr/bin/python3",
                "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
                    + " print(c.execute('PRAGMA journal_mode=WAL').fetchone()[0])",
                dir.resolve("keystone.db").toString())
            .redirectErrorStream(true);
    cleanEnv(pb.environment());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes()).strip();
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0 || !out.equals("wal")) {
      throw new IllegalStateException("could not put keystone.db in WAL mode: " + out);
    }
  }

  private void manage(String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(KEYSTONE_MANAGE.toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("manage.log").toFile()));
    cleanEnv(pb.environment());
    Process p = pb.start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("keystone-manage " + args[2] + " took over 120 s");
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException(
          "keystone-manage " + String.join(" ", args) + " failed:\n" + tail("manage.log"));
    }
  }

  /**
   * Debian's Python and nothing else: a python3 earlier on PATH (pyenv) lacks the keystone modules
   * in /usr/lib/python3/dist-packages.
   */
  private static void cleanEnv(Map<String, String> env) {
    env.keySet()
        .removeIf(k -> k.startsWith("PYTHON") || k.startsWith("PYENV") || k.startsWith("OS_"));
    env.put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
  }

  String tail(String file) {
    try {
      List<String> lines = Files.readAllLines(dir.resolve(file));
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no " + file + ")";
    }
  }
}
