package io.livemigrate.common.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.livemigrate.common.broker.EmbeddedBroker;
import io.livemigrate.common.contract.AgentCommands.CleanupSource;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.ops.OpsServer;
import io.livemigrate.common.ops.Registries;
import io.livemigrate.common.ops.ServerTls;
import io.livemigrate.common.testing.BrokerFixture;
import io.livemigrate.common.testing.Buses;
import io.livemigrate.common.testing.PrivateRabbit;
import io.livemigrate.common.testing.TestPki;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * TLS on every link an operator exposes, with certificates this test makes: AMQPS to a private
 * RabbitMQ node (CA, host name and client certificate checked) and to the embedded broker, and
 * HTTPS for {@code /metrics} and {@code /health}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class BusTlsTest {
  static final Sender TEST = new Sender("bus-test", "testhost");

  Path dir;
  TestPki pki;
  TestPki otherCa;
  TestPki.Issued server;
  TestPki.Issued client;
  PrivateRabbit node;
  int amqps;
  Vertx vertx;

  @BeforeAll
  void start() throws Exception {
    vertx = Vertx.vertx();
    dir = Files.createTempDirectory("lm-tls");
    pki = TestPki.create(dir, "livemigrate-test-ca");
    otherCa = TestPki.create(dir.resolve("other"), "someone-else-ca");
    // Named "localhost" only: connecting to 127.0.0.1 must fail the host name check.
    server = pki.server("broker", List.of("localhost"), List.of());
    client = pki.client("compute-HostA", "compute-HostA");
    if (!PrivateRabbit.available()) {
      if ("true".equals(System.getenv("CI"))) throw new AssertionError("CI must have RabbitMQ");
      return;
    }
    int[] ports = PrivateRabbit.freePorts(3);
    amqps = ports[2];
    node =
        PrivateRabbit.start(
            "lmhb-tls",
            ports[0],
            ports[1],
            new PrivateRabbit.Tls(amqps, server.cert(), server.key(), pki.caFile(), true));
  }

  @AfterAll
  void stop() throws Exception {
    if (vertx != null) vertx.close().await(20, TimeUnit.SECONDS);
    if (node != null) node.close();
  }

  private BusSettings tls(String host, int port, BusSettings.Tls t) {
    return new BusSettings(
            "amqps://guest:guest@" + host + ":" + port,
            BrokerFixture.freshNamespace(),
            16,
            5000,
            200,
            3)
        .withTls(t);
  }

  private BusSettings.Tls withClientCert(Path ca, boolean verifyHostname) {
    return new BusSettings.Tls(
        ca.toString(), client.cert().toString(), client.key().toString(), verifyHostname);
  }

  private String probeFailure(BusSettings s) {
    try (Buses b = new Buses(vertx)) {
      Throwable t = b.failure(() -> Bus.probe(vertx, s));
      if (t == null) return null;
      StringBuilder why = new StringBuilder();
      for (Throwable x = t; x != null; x = x.getCause()) why.append(x).append(" / ");
      return why.toString();
    }
  }

  @Test
  void amqpsToRabbitmqChecksTheCaTheHostNameAndPresentsTheClientCertificate() {
    assumeTrue(node != null, "no RabbitMQ server installed");
    BusSettings good = tls("localhost", amqps, withClientCert(pki.caFile(), true));
    assertNull(probeFailure(good));
    try (Buses b = new Buses(vertx)) {
      Bus bus = b.connect(good, TEST, new SimpleMeterRegistry());
      String q = good.topology().conductorQueue();
      List<Envelope> got = new CopyOnWriteArrayList<>();
      b.on(
          () ->
              bus.consume(
                  q,
                  List.of(),
                  SenderCheck.ANYONE,
                  (e, m) -> {
                    got.add(e);
                    return Future.succeededFuture();
                  }));
      Envelope e =
          Envelope.of(new CleanupSource("9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a", "x"), TEST);
      b.on(() -> bus.send(q, e));
      b.eventually("the message crossed AMQPS", () -> got.size() == 1);
      assertEquals(e.id(), got.get(0).id());
      b.on(() -> bus.deleteTopology(List.of(q)));
    }
    assertNull(probeFailure(good));

    String wrongHost = probeFailure(tls("127.0.0.1", amqps, withClientCert(pki.caFile(), true)));
    assertNotNull(wrongHost, "a certificate for localhost must not do for 127.0.0.1");
    assertTrue(wrongHost.contains("127.0.0.1"), wrongHost);
    assertNull(
        probeFailure(tls("127.0.0.1", amqps, withClientCert(pki.caFile(), false))),
        "ssl_verify_hostname = false accepts it");
    String unknownCa =
        probeFailure(tls("localhost", amqps, withClientCert(otherCa.caFile(), true)));
    assertNotNull(unknownCa, "a broker certificate of another CA must be refused");
    assertTrue(unknownCa.contains("PKIX") || unknownCa.contains("certificate"), unknownCa);
    String jvmTrust =
        probeFailure(
            tls(
                "localhost",
                amqps,
                new BusSettings.Tls("", client.cert().toString(), client.key().toString(), true)));
    assertNotNull(jvmTrust, "the JVM's trust store does not know the test CA");
    String noClientCert =
        probeFailure(
            tls("localhost", amqps, new BusSettings.Tls(pki.caFile().toString(), "", "", true)));
    assertNotNull(noClientCert, "the listener requires a client certificate");
    System.out.printf(
        "BusTlsTest: refused wrong host (%s), unknown CA, JVM trust store, no client cert%n",
        wrongHost.substring(0, Math.min(160, wrongHost.length())));
  }

  @Test
  void amqpsToTheEmbeddedBroker() throws Exception {
    try (EmbeddedBroker broker =
            EmbeddedBroker.start(
                EmbeddedBroker.Settings.plain(0).withTls(server.cert(), server.key()));
        Buses b = new Buses(vertx)) {
      BusSettings.Tls caOnly = new BusSettings.Tls(pki.caFile().toString(), "", "", true);
      BusSettings s = tls("localhost", broker.tlsPort(), caOnly);
      Bus bus = b.connect(s, TEST, new SimpleMeterRegistry());
      String q = s.topology().schedulerQueue();
      List<Envelope> got = new CopyOnWriteArrayList<>();
      b.on(
          () ->
              bus.consume(
                  q,
                  List.of(),
                  SenderCheck.ANYONE,
                  (e, m) -> {
                    got.add(e);
                    return Future.succeededFuture();
                  }));
      Envelope e =
          Envelope.of(new CleanupSource("9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a", "x"), TEST);
      b.on(() -> bus.send(q, e));
      b.eventually("the message crossed AMQPS", () -> got.size() == 1);
      assertNotNull(
          probeFailure(tls("127.0.0.1", broker.tlsPort(), caOnly)), "host name checked here too");
    }
  }

  @Test
  void metricsAndHealthOverHttpsWithClientCertificates() throws Exception {
    TestPki.Issued ops = pki.server("ops", List.of("localhost"), List.of("127.0.0.1"));
    var registry = Registries.create("bus-test");
    try (Buses b = new Buses(vertx)) {
      OpsServer server =
          b.on(
              () ->
                  OpsServer.start(
                      vertx,
                      ServerTls.options(
                          "127.0.0.1",
                          0,
                          ops.cert().toString(),
                          ops.key().toString(),
                          pki.caFile().toString()),
                      List.of(registry),
                      () -> new JsonObject().put("status", "UP")));
      HttpClientOptions trusted =
          new HttpClientOptions()
              .setSsl(true)
              .setTrustOptions(new PemTrustOptions().addCertPath(pki.caFile().toString()))
              .setVerifyHost(true);
      HttpClientOptions withCert =
          new HttpClientOptions(trusted)
              .setKeyCertOptions(
                  new PemKeyCertOptions()
                      .setCertPath(client.cert().toString())
                      .setKeyPath(client.key().toString()));
      assertEquals(200, get(b, withCert, server.port(), "/health"));
      assertEquals(200, get(b, withCert, server.port(), "/metrics"));
      assertTrue(
          b.failure(() -> request(trusted, server.port(), "/health")) != null,
          "no client certificate, no answer");
      b.on(server::close);
    }
    assertThrowsConfig(() -> ServerTls.options("127.0.0.1", 0, "/x.crt", "", ""));
    assertFalse(ServerTls.options("127.0.0.1", 0, "", "", "").isSsl(), "plain by default");
  }

  private static void assertFalse(boolean b, String what) {
    assertTrue(!b, what);
  }

  private static void assertThrowsConfig(Runnable r) {
    try {
      r.run();
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage().contains("ssl_cert_file"), e.getMessage());
      return;
    }
    throw new AssertionError("a certificate without key must be refused");
  }

  private int get(Buses b, HttpClientOptions o, int port, String path) {
    return b.on(() -> request(o, port, path));
  }

  private Future<Integer> request(HttpClientOptions o, int port, String path) {
    HttpClient c = vertx.createHttpClient(o);
    return c.request(HttpMethod.GET, port, "localhost", path)
        .compose(r -> r.send())
        .map(r -> r.statusCode())
        .eventually(() -> c.close());
  }
}
