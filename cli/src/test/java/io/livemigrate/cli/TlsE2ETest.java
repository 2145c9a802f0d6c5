package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.livemigrate.common.config.ApiOptions;
import io.livemigrate.common.config.BusOptions;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.OpsOptions;
import io.livemigrate.common.config.SimulatedOptions;
import io.livemigrate.common.ops.Registries;
import io.livemigrate.common.testing.BrokerFixture;
import io.livemigrate.common.testing.PrivateRabbit;
import io.livemigrate.common.testing.TestPki;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A live migration with every link of the control plane encrypted, as an operator turns it on
 * (README, "The bus: identities, delivery and TLS"): the services reach a RabbitMQ node of the
 * test's own over AMQPS only (the node asks for a client certificate, the services check its
 * certificate and host name against the test's CA), the API and /health answer over HTTPS only, and
 * the stock client's calls (here the JDK's) trust nothing but that CA.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class TlsE2ETest {
  private static final String VM = "0b5e0000-0000-4000-8000-0000000071e1";
  private static final String ADMIN = "tls-admin-token";

  @Test
  void migrationOverAmqpsWithTheApiOverHttps() throws Exception {
    if (!PrivateRabbit.available()) {
      if ("true".equals(System.getenv("CI"))) throw new AssertionError("CI must have RabbitMQ");
      assumeTrue(false, "no RabbitMQ server installed");
    }
    Path dir = Files.createTempDirectory("lm-tls-e2e");
    TestPki pki = TestPki.create(dir, "livemigrate-e2e-ca");
    TestPki.Issued broker = pki.server("broker", List.of("localhost"), List.of());
    TestPki.Issued api = pki.server("api", List.of("localhost"), List.of("127.0.0.1"));
    TestPki.Issued services = pki.client("services", "guest");
    int amqps = freePort();
    Vertx vertx = Vertx.vertx();
    AllInOne cloud = null;
    try (PrivateRabbit node =
        PrivateRabbit.start(
            "lm-tls-e2e",
            freePort(),
            freePort(),
            new PrivateRabbit.Tls(amqps, broker.cert(), broker.key(), pki.caFile(), true))) {
      Map<String, String> c = new HashMap<>();
      c.put(DefaultOptions.TRANSPORT_URL.key(), "amqps://guest:guest@localhost:" + amqps);
      c.put(BusOptions.BUS_SSL_CA_FILE.key(), pki.caFile().toString());
      c.put(BusOptions.BUS_SSL_CERT_FILE.key(), services.cert().toString());
      c.put(BusOptions.BUS_SSL_KEY_FILE.key(), services.key().toString());
      c.put(DefaultOptions.BUS_NAMESPACE.key(), BrokerFixture.freshNamespace());
      c.put(ApiOptions.API_SSL_CERT_FILE.key(), api.cert().toString());
      c.put(ApiOptions.API_SSL_KEY_FILE.key(), api.key().toString());
      c.put(OpsOptions.OPS_SSL_CERT_FILE.key(), api.cert().toString());
      c.put(OpsOptions.OPS_SSL_KEY_FILE.key(), api.key().toString());
      c.put(ConductorOptions.STORE_URL.key(), "jdbc:h2:file:" + dir.resolve("store"));
      c.put(ApiOptions.API_PORT.key(), "0");
      c.put(OpsOptions.OPS_PORT.key(), "0");
      c.put(DefaultOptions.REPORT_INTERVAL.key(), "1");
      c.put(SimulatedOptions.SIM_LINK_MIBPS.key(), "1024");
      c.put(SimulatedOptions.SIM_TICK_MS.key(), "20");
      c.put(DefaultOptions.HOST.key(), "controller");
      PrometheusMeterRegistry metrics = Registries.forVertx("conductor");
      cloud =
          AllInOne.start(
                  vertx,
                  Config.defaults(c),
                  false,
                  ADMIN,
                  List.of(
                      new AllInOne.HostSpec(
                          "HostA",
                          ApiCloud.capacity(),
                          List.of(ApiCloud.guest(VM, "tls-vm", "p1", 512, 0, 0))),
                      new AllInOne.HostSpec("HostB", ApiCloud.capacity(), List.of())),
                  metrics)
              .await(90, TimeUnit.SECONDS);
      int port = cloud.conductor().apiPort();
      HttpClient trusting =
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .connectTimeout(Duration.ofSeconds(5))
              .sslContext(trusting(pki.caFile()))
              .build();
      Http https = new Http("https://127.0.0.1:" + port + "/v2.1", ADMIN, trusting);
      Http.until(
          "both hypervisors reported over AMQPS",
          Duration.ofSeconds(60),
          () -> https.get("/os-hypervisors").json().getJsonArray("hypervisors").size() == 2);
      Http.Response r =
          https.post(
              "/servers/" + VM + "/action",
              "{\"os-migrateLive\": {\"host\": \"HostB\", \"block_migration\": false}}",
              "2.30");
      assertEquals(202, r.status(), r.body());
      Http.until(
          "the server ACTIVE on HostB",
          Duration.ofSeconds(60),
          () -> {
            JsonObject s = https.get("/servers/" + VM).json().getJsonObject("server");
            return "HostB".equals(s.getString("OS-EXT-SRV-ATTR:host"))
                && "ACTIVE".equals(s.getString("status"));
          });
      JsonObject m =
          https
              .get("/os-migrations?instance_uuid=" + VM)
              .json()
              .getJsonArray("migrations")
              .getJsonObject(0);
      assertEquals("completed", m.getString("status"), m.encode());
      assertEquals(List.of("HostB"), where(cloud));

      // Plain HTTP gets no API; a client that does not trust the CA gets no connection.
      assertThrows(
          java.io.IOException.class,
          () ->
              HttpClient.newHttpClient()
                  .send(
                      HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v2.1/"))
                          .timeout(Duration.ofSeconds(5))
                          .build(),
                      HttpResponse.BodyHandlers.ofString()),
          "plain HTTP on the API port");
      assertThrows(
          javax.net.ssl.SSLHandshakeException.class,
          () ->
              HttpClient.newHttpClient()
                  .send(
                      HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/v2.1/"))
                          .timeout(Duration.ofSeconds(5))
                          .build(),
                      HttpResponse.BodyHandlers.ofString()));
      HttpResponse<String> health =
          trusting.send(
              HttpRequest.newBuilder(
                      URI.create("https://127.0.0.1:" + cloud.conductor().opsPort() + "/health"))
                  .timeout(Duration.ofSeconds(5))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertEquals(200, health.statusCode(), health.body());
    } finally {
      if (cloud != null) cloud.stop().await(60, TimeUnit.SECONDS);
      vertx.close().await(30, TimeUnit.SECONDS);
    }
  }

  private static List<String> where(AllInOne cloud) {
    return List.of("HostA", "HostB").stream()
        .filter(h -> cloud.hypervisor(h).domain(VM).isPresent())
        .toList();
  }

  private static SSLContext trusting(Path caPem) throws Exception {
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    try (InputStream in = Files.newInputStream(caPem)) {
      ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
