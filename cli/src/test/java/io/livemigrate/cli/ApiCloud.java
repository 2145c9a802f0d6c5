package io.livemigrate.cli;

import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.config.ApiOptions;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.OpsOptions;
import io.livemigrate.common.config.SimulatedOptions;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.ops.Registries;
import io.livemigrate.common.testing.BrokerFixture;
import io.livemigrate.conductor.api.Auth;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A test cloud for the API tests: the all-in-one in this JVM over the best broker available, a
 * fresh bus namespace, an H2 store in a temporary directory and a token file with one admin and one
 * member (project p1) token. {@link #close()} stops everything and deletes the test's queues.
 */
final class ApiCloud implements AutoCloseable {
  static final String ADMIN = "api-admin-token";
  static final String MEMBER = "api-member-token";
  static final String MEMBER_PROJECT = "p1";
  static final long MIB = SimDomain.MIB;

  final BrokerFixture broker;
  final Vertx vertx;
  final AllInOne cloud;
  final String namespace;
  final String endpoint;
  private final List<String> hosts;

  private ApiCloud(
      BrokerFixture broker,
      Vertx vertx,
      AllInOne cloud,
      String namespace,
      String endpoint,
      List<String> hosts) {
    this.broker = broker;
    this.vertx = vertx;
    this.cloud = cloud;
    this.namespace = namespace;
    this.endpoint = endpoint;
    this.hosts = hosts;
  }

  static SimDomain guest(
      String uuid, String name, String project, long memoryMb, long dirtyBps, long workingSet) {
    return new SimDomain(
        uuid,
        name,
        1,
        memoryMb,
        10,
        project,
        "u-" + project,
        "m1.small",
        dirtyBps,
        workingSet,
        false);
  }

  /**
   * Starts a cloud of the given hosts.
   *
   * @param overrides extra configuration (e.g. a long completion timeout)
   */
  static ApiCloud start(List<AllInOne.HostSpec> hosts, Map<String, String> overrides)
      throws Exception {
    BrokerFixture broker = BrokerFixture.best();
    // As the all-in-one command: Vert.x's own metrics on the conductor's /metrics.
    PrometheusMeterRegistry vertxMetrics = Registries.forVertx("conductor");
    Vertx vertx = Registries.vertx(vertxMetrics);
    String ns = BrokerFixture.freshNamespace();
    Path dir = Files.createTempDirectory("lm-api");
    Path tokens = dir.resolve("tokens");
    // Hashes only: the file never holds a token.
    Files.writeString(
        tokens,
        "# sha256 project user roles\n"
            + Auth.sha256(MEMBER)
            + " "
            + MEMBER_PROJECT
            + " u1 member\n");
    Map<String, String> c = new HashMap<>();
    c.put(DefaultOptions.TRANSPORT_URL.key(), broker.url());
    c.put(DefaultOptions.BUS_NAMESPACE.key(), ns);
    c.put(ConductorOptions.STORE_URL.key(), "jdbc:h2:file:" + dir.resolve("store"));
    c.put(ApiOptions.API_PORT.key(), "0");
    c.put(OpsOptions.OPS_PORT.key(), "0");
    c.put(ApiOptions.API_TOKEN_FILE.key(), tokens.toString());
    c.put(DefaultOptions.REPORT_INTERVAL.key(), "1");
    c.put(DefaultOptions.SERVICE_DOWN_TIME.key(), "10");
    c.put(ComputeOptions.PROGRESS_INTERVAL_MS.key(), "200");
    c.put(SimulatedOptions.SIM_LINK_MIBPS.key(), "1024");
    c.put(SimulatedOptions.SIM_TICK_MS.key(), "20");
    c.put(DefaultOptions.HOST.key(), "controller");
    c.putAll(overrides);
    AllInOne cloud =
        AllInOne.start(vertx, Config.defaults(c), false, ADMIN, hosts, vertxMetrics)
            .await(60, TimeUnit.SECONDS);
    String endpoint = "http://127.0.0.1:" + cloud.conductor().apiPort() + "/v2.1";
    int servers = hosts.stream().mapToInt(h -> h.domains().size()).sum();
    Http admin = new Http(endpoint, ADMIN);
    Http.until(
        "all servers and hypervisors reported",
        Duration.ofSeconds(30),
        () ->
            admin.get("/servers").json().getJsonArray("servers").size() == servers
                && admin.get("/os-hypervisors").json().getJsonArray("hypervisors").size()
                    == hosts.size());
    return new ApiCloud(
        broker, vertx, cloud, ns, endpoint, hosts.stream().map(AllInOne.HostSpec::name).toList());
  }

  /** The stored record of a migration, as the API's view {@code m} names it by id. */
  io.livemigrate.conductor.MigrationRow row(io.vertx.core.json.JsonObject m) throws Exception {
    return row(cloud, m);
  }

  /** The stored record of a migration in any all-in-one cloud. */
  static io.livemigrate.conductor.MigrationRow row(AllInOne cloud, io.vertx.core.json.JsonObject m)
      throws Exception {
    long id = m.getLong("id");
    return cloud
        .conductor()
        .conductor()
        .migrations()
        .find(id)
        .await(10, java.util.concurrent.TimeUnit.SECONDS)
        .orElseThrow();
  }

  static HostResources capacity() {
    return new HostResources(16, 65536, 1000);
  }

  Http as(String token) {
    return new Http(endpoint, token);
  }

  @Override
  public void close() throws Exception {
    BusSettings s = new BusSettings(broker.url(), namespace, 16, 5000, 500, 3);
    Bus cleaner =
        onContext(
            () -> Bus.connect(vertx, s, new Sender("test", "tester"), new SimpleMeterRegistry()));
    List<String> queues = new ArrayList<>();
    queues.add(cleaner.topology().conductorQueue());
    queues.add(cleaner.topology().schedulerQueue());
    for (String h : hosts) queues.add(cleaner.topology().computeQueue(h));
    cloud.stop().await(30, TimeUnit.SECONDS);
    onContext(() -> cleaner.deleteTopology(queues).compose(v -> cleaner.close()));
    vertx.close().await(10, TimeUnit.SECONDS);
    broker.close();
  }

  private <T> T onContext(java.util.function.Supplier<Future<T>> work) throws Exception {
    Promise<T> p = Promise.promise();
    vertx.runOnContext(v -> work.get().onComplete(p));
    return p.future().await(30, TimeUnit.SECONDS);
  }
}
