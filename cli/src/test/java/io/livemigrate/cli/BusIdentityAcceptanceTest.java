package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.ShutdownSignalException;
import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.app.ComputeAgentVerticle;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.agent.sim.SimulatedHypervisor;
import io.livemigrate.common.bus.Topology;
import io.livemigrate.common.config.ApiOptions;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.OpsOptions;
import io.livemigrate.common.contract.AgentCommands.StartMigration;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.MigrationCompleted;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.testing.PrivateRabbit;
import io.livemigrate.conductor.app.ConductorVerticle;
import io.livemigrate.scheduler.app.SchedulerVerticle;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * Issue 13, acceptance 1 and 2, against the real RabbitMQ: a private node (this test creates users
 * there, which it must not do on the shared server), set up by {@code livemigrate setup rabbitmq};
 * conductor, scheduler and three compute agents each log in as their own user. While a live
 * migration from HostB to HostA runs, the test logs in as {@code compute-HostC} and tries to act as
 * HostB, as the conductor, to command HostB, to finish HostB's migration and to read HostB's queue:
 * each is refused by the broker or parked by the receiver with a reason, and the migration
 * completes normally.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class BusIdentityAcceptanceTest {
  static final String NS = "livemigrate";
  static final String VHOST = "lm-accept";
  static final String TOKEN = "identity-test-admin-token";
  static final String VM1 = "d1df1b5a-70c4-4fed-98b7-423362f2c47c";
  static final String VM2 = "d693db9e-a7cf-45ef-a7c9-b3ecb5f22645";
  // Moved by its own test, so that the tests that need vm2 on HostB do not depend on their order.
  static final String VM3 = "5c0b7a52-3d1e-4c8f-9a6b-0e2f4d6a8c13";
  static final long MIB = SimDomain.MIB;

  final Topology t = new Topology(NS);
  PrivateRabbit node;
  Path dir;
  Path passwords;
  Vertx vertx;
  ScheduledExecutorService simClock;
  final io.livemigrate.agent.sim.SimFabric fabric = io.livemigrate.agent.sim.SimFabric.inMemory();
  final Map<String, SimulatedHypervisor> hv = new LinkedHashMap<>();
  final List<String> deployments = new ArrayList<>();
  ConductorVerticle conductor;
  SchedulerVerticle scheduler;
  Http api;

  @BeforeAll
  void start() throws Exception {
    if (!PrivateRabbit.available()) {
      if ("true".equals(System.getenv("CI"))) throw new AssertionError("CI must have RabbitMQ");
      return;
    }
    node = PrivateRabbit.start("lmhb-accept");
    dir = Files.createTempDirectory("lm-accept");
    passwords = dir.resolve("rabbitmq");
    int rc =
        new CommandLine(new Main())
            .execute(
                "setup",
                "rabbitmq",
                "--hosts",
                "HostA,HostB,HostC",
                "--vhost",
                VHOST,
                "--password-dir",
                passwords.toString(),
                "--rabbitmqctl",
                String.join(" ", node.rabbitmqctl()));
    assertEquals(0, rc, "livemigrate setup rabbitmq");
    assertEquals(
        "rw-------",
        java.nio.file.attribute.PosixFilePermissions.toString(
            Files.getPosixFilePermissions(passwords.resolve("compute-HostB.password"))));

    vertx = Vertx.vertx();
    simClock =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread th = new Thread(r, "sim-clock");
              th.setDaemon(true);
              return th;
            });
    HostResources cap = new HostResources(16, 65536, 1000);
    for (String h : List.of("HostA", "HostB", "HostC")) {
      hv.put(h, new SimulatedHypervisor(h, cap, 256 * MIB, 20, simClock).linkTo(fabric));
    }
    // About 8 s at 256 MiB/s: long enough to try everything while it runs.
    hv.get("HostB")
        .define(new SimDomain(VM1, "vm1", 1, 2048, 10, "p1", "u1", "m1.small", 20 * MIB, 0, false));
    hv.get("HostB")
        .define(new SimDomain(VM2, "vm2", 1, 512, 10, "p1", "u1", "m1.small", 0, 0, false));
    hv.get("HostB")
        .define(new SimDomain(VM3, "vm3", 1, 512, 10, "p1", "u1", "m1.small", 0, 0, false));
    scheduler = new SchedulerVerticle(config("controller", "scheduler"));
    deploy(scheduler);
    conductor = new ConductorVerticle(config("controller", "conductor"), TOKEN);
    deploy(conductor);
    for (String h : hv.keySet())
      deploy(new ComputeAgentVerticle(config(h, "compute-" + h), hv.get(h)));
    api = new Http("http://127.0.0.1:" + conductor.apiPort() + "/v2.1", TOKEN);
    Http.until(
        "three hypervisors and three servers reported",
        Duration.ofSeconds(30),
        () ->
            api.get("/os-hypervisors").json().getJsonArray("hypervisors").size() == 3
                && api.get("/servers").json().getJsonArray("servers").size() == 3);
  }

  private Config config(String host, String user) throws Exception {
    return Config.defaults(
        Map.ofEntries(
            Map.entry(DefaultOptions.TRANSPORT_URL.key(), url(user)),
            Map.entry(DefaultOptions.BUS_NAMESPACE.key(), NS),
            Map.entry(ConductorOptions.STORE_URL.key(), "jdbc:h2:file:" + dir.resolve("store")),
            Map.entry(ApiOptions.API_PORT.key(), "0"),
            Map.entry(OpsOptions.OPS_PORT.key(), "0"),
            Map.entry(DefaultOptions.REPORT_INTERVAL.key(), "1"),
            Map.entry(DefaultOptions.SERVICE_DOWN_TIME.key(), "10"),
            Map.entry(ComputeOptions.PROGRESS_INTERVAL_MS.key(), "200"),
            Map.entry(ComputeOptions.PEERS.key(), "HostA,HostB,HostC"),
            // Not the default /var/lib/livemigrate/compute, which every test and run would share.
            Map.entry(ComputeOptions.STATE_DIR.key(), dir.resolve("state-" + host).toString()),
            Map.entry(DefaultOptions.HOST.key(), host)));
  }

  String url(String user) throws Exception {
    String pw = Files.readString(passwords.resolve(user + ".password")).trim();
    return node.url(user, pw, VHOST);
  }

  private void deploy(io.vertx.core.Deployable v) throws Exception {
    deployments.add(vertx.deployVerticle(v).await(60, TimeUnit.SECONDS));
  }

  @AfterAll
  void stop() throws Exception {
    if (vertx != null) {
      for (String id : deployments) {
        try {
          vertx.undeploy(id).await(20, TimeUnit.SECONDS);
        } catch (Exception e) {
          // go on
        }
      }
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    if (simClock != null) simClock.shutdownNow();
    if (node != null) node.close();
  }

  // ------------------------------------------------------------------ helpers

  static double forbidden(int opsPort) {
    try {
      return metric(
          Http.raw("http://127.0.0.1:" + opsPort + "/metrics"),
          "livemigrate_bus_parked_total",
          "cause=\"forbidden\"");
    } catch (Exception e) {
      throw new IllegalStateException("metrics on port " + opsPort, e);
    }
  }

  static AMQP.BasicProperties props(String userId, Envelope e) {
    return new AMQP.BasicProperties.Builder()
        .userId(userId)
        .messageId(e.id())
        .type(e.type())
        .contentType("application/json")
        .deliveryMode(2)
        .build();
  }

  interface ChannelOp {
    void run(Channel ch) throws Exception;
  }

  /** Null when {@code op} went through (confirmed by the broker), else why the broker refused. */
  String as(String user, ChannelOp op) throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(url(user));
    try (Connection c = cf.newConnection("acceptance-" + user)) {
      Channel ch = c.createChannel();
      ch.confirmSelect();
      op.run(ch);
      ch.waitForConfirmsOrDie(5000);
      return null;
    } catch (Exception e) {
      for (Throwable x = e; x != null; x = x.getCause()) {
        if (x instanceof ShutdownSignalException sse) return sse.getMessage();
      }
      return e.toString();
    }
  }

  static byte[] bytes(Envelope e) {
    return e.toJson().encode().getBytes(StandardCharsets.UTF_8);
  }

  JsonObject latestMigration(String vm) {
    // 2.59: the migration's uuid, which the bus messages carry.
    JsonArray l =
        api.get("/os-migrations?instance_uuid=" + vm, "2.59").json().getJsonArray("migrations");
    return l.isEmpty() ? new JsonObject() : l.getJsonObject(0);
  }

  static double metric(String text, String name, String... labels) {
    double sum = 0;
    for (String line : text.split("\n")) {
      if (!line.startsWith(name + "{")) continue;
      boolean all = true;
      for (String l : labels) all &= line.contains(l);
      if (all) sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  String startMigration(String vm, String host) {
    Http.Response r =
        api.post(
            "/servers/" + vm + "/action",
            "{\"os-migrateLive\": {\"host\": \"" + host + "\", \"block_migration\": false}}",
            "2.30");
    assertEquals(202, r.status(), r.body());
    Http.until(
        "the migration of " + vm + " runs",
        Duration.ofSeconds(20),
        () -> "running".equals(latestMigration(vm).getString("status")));
    return latestMigration(vm).getString("uuid");
  }

  /** The parked messages as {@code livemigrate parked list --json} shows them. */
  JsonArray parkedList() throws Exception {
    Path conf = dir.resolve("conductor.conf");
    Files.writeString(
        conf, "transport_url = " + url("conductor") + "\nbus_namespace = " + NS + "\n");
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    CommandLine cl = new CommandLine(new Main());
    ParkedCommand.ListCmd list =
        cl.getSubcommands().get("parked").getSubcommands().get("list").getCommand();
    list.out = new PrintStream(buf, true, StandardCharsets.UTF_8);
    assertEquals(0, cl.execute("parked", "list", "--json", "--config", conf.toString()));
    return new JsonArray(buf.toString(StandardCharsets.UTF_8));
  }

  // ------------------------------------------------------------------ acceptance 1

  @Test
  void computeHostCCannotActForHostBNorForTheConductor() throws Exception {
    assumeTrue(node != null, "no RabbitMQ server installed");
    // Other tests of this class park forgeries too: count this test's from what is there now.
    double conductorBefore = forbidden(conductor.opsPort());
    double schedulerBefore = forbidden(scheduler.opsPort());
    Set<String> parkedBefore = new HashSet<>();
    for (Object o : parkedList()) parkedBefore.add(((JsonObject) o).getString("id"));
    String migration = startMigration(VM1, "HostA");
    assertNotNull(migration);
    String mid = latestMigration(VM1).getString("uuid");
    Sender asHostB = new Sender("compute", "HostB");
    Sender asConductor = new Sender("conductor", "controller");
    Message completed = new MigrationCompleted(VM1, 1, 1, 1, 0, 0, 1, 1, "precopy");
    Envelope fakeCompletion = Envelope.of(completed, asHostB).withMigration(mid, "forged");
    Message evilStart = new StartMigration(VM2, "evil.example", false, false, false, 0, 500);
    Envelope fakeCommand = Envelope.of(evilStart, asConductor).withMigration(mid, "forged");

    Map<String, String> broker = new LinkedHashMap<>();
    broker.put(
        "publish as HostB",
        as(
            "compute-HostC",
            ch ->
                ch.basicPublish(
                    t.commands(),
                    t.conductorQueue(),
                    props("compute-HostB", fakeCompletion),
                    bytes(fakeCompletion))));
    broker.put(
        "publish as the conductor",
        as(
            "compute-HostC",
            ch ->
                ch.basicPublish(
                    t.commands(),
                    t.computeQueue("HostB"),
                    props("conductor", fakeCommand),
                    bytes(fakeCommand))));
    broker.put(
        "a command to compute.HostB",
        as(
            "compute-HostC",
            ch ->
                ch.basicPublish(
                    t.commands(),
                    t.computeQueue("HostB"),
                    props("compute-HostC", fakeCommand),
                    bytes(fakeCommand))));
    broker.put(
        "consume compute.HostB",
        as(
            "compute-HostC",
            ch -> ch.basicConsume(t.computeQueue("HostB"), false, (tag, d) -> {}, tag -> {})));
    for (var e : broker.entrySet()) {
      assertNotNull(e.getValue(), e.getKey() + " must be refused by the broker");
      assertTrue(
          e.getValue().contains("ACCESS_REFUSED") || e.getValue().contains("PRECONDITION_FAILED"),
          e.getKey() + ": " + e.getValue());
    }

    // What the broker lets through (HostC may report to the conductor), the receivers park.
    String receiverParked =
        as(
            "compute-HostC",
            ch -> {
              // migration_completed for HostB's migration, claiming to be HostB.
              ch.basicPublish(
                  t.commands(),
                  t.conductorQueue(),
                  props("compute-HostC", fakeCompletion),
                  bytes(fakeCompletion));
              // A report about HostB under HostC's own routing key.
              Envelope report =
                  Envelope.of(
                      new HostReport(
                          "HostB", "nova", "simulated", 1L, 1, 1, 1, false, false, List.of()),
                      new Sender("compute", "HostC"));
              ch.basicPublish(
                  t.events(), "host.report.HostC", props("compute-HostC", report), bytes(report));
            });
    assertEquals(null, receiverParked, "the broker routes these; the receivers must park them");

    Http.until(
        "the migration ends",
        Duration.ofSeconds(60),
        () ->
            List.of("completed", "failed", "error", "cancelled")
                .contains(latestMigration(VM1).getString("status", "")));
    JsonObject m = latestMigration(VM1);
    assertEquals("completed", m.getString("status"), m.encode());
    assertTrue(hv.get("HostA").domain(VM1).isPresent(), "vm1 runs on HostA");
    assertTrue(hv.get("HostB").domain(VM1).isEmpty(), "and no longer on HostB");
    assertTrue(hv.get("HostB").domain(VM2).isPresent(), "vm2 never went anywhere");
    assertEquals(
        "HostA",
        api.get("/servers/" + VM1)
            .json()
            .getJsonObject("server")
            .getString("OS-EXT-SRV-ATTR:host"));

    Http.until(
        "the conductor counted both forgeries",
        Duration.ofSeconds(10),
        () -> forbidden(conductor.opsPort()) >= conductorBefore + 2);
    assertEquals(conductorBefore + 2.0, forbidden(conductor.opsPort()));
    assertEquals(schedulerBefore + 1.0, forbidden(scheduler.opsPort()));

    JsonArray parked = parkedList();
    List<String> reasons = new ArrayList<>();
    for (Object o : parked.copy()) {
      JsonObject p = (JsonObject) o;
      if (parkedBefore.contains(p.getString("id"))) {
        parked.remove(o);
        continue;
      }
      assertEquals("forbidden", p.getString("cause"), p.encode());
      assertEquals("compute-HostC", p.getString("user_id"), p.encode());
      reasons.add(p.getString("reason"));
    }
    assertEquals(3, parked.size(), "conductor (2) and scheduler (1): " + parked.encodePrettily());
    assertTrue(
        reasons.stream().anyMatch(r -> r.contains("claims to be sender compute@HostB")),
        reasons.toString());
    assertTrue(
        reasons.stream().anyMatch(r -> r.contains("may not send host_report for host HostB")),
        reasons.toString());
    System.out.println(
        "BusIdentityAcceptanceTest: refused by the broker: "
            + broker.keySet()
            + "; parked by the receivers: "
            + reasons);
  }

  // ------------------------------------------------------------------ waiting for the conductor

  /**
   * A migration event HostC sends under its own name (so the bus's generic checks pass) for a
   * migration it takes no part in: only the conductor's transition function knows the migration's
   * source and destination.
   */
  @Test
  void aMigrationEventFromAHostNotInTheMigrationIsParked() throws Exception {
    assumeTrue(node != null, "no RabbitMQ server installed");
    startMigration(VM3, "HostA");
    String mid = latestMigration(VM3).getString("uuid");
    Envelope honest =
        Envelope.of(
                new MigrationCompleted(VM3, 1, 1, 1, 0, 0, 1, 1, "precopy"),
                new Sender("compute", "HostC"))
            .withMigration(mid, "forged");
    assertEquals(
        null,
        as(
            "compute-HostC",
            ch ->
                ch.basicPublish(
                    t.commands(),
                    t.conductorQueue(),
                    props("compute-HostC", honest),
                    bytes(honest))));
    Http.until(
        "the migration ends",
        Duration.ofSeconds(60),
        () ->
            List.of("completed", "failed", "error")
                .contains(latestMigration(VM3).getString("status", "")));
    // Completed by HostB's real outcome, not by the forgery: the guest really moved.
    assertTrue(hv.get("HostA").domain(VM3).isPresent());
    JsonArray parked = parkedList();
    assertTrue(parked.encode().contains(honest.id()), parked.encodePrettily());
  }

  // ------------------------------------------------------------------ acceptance 2

  /**
   * A start_migration the (real) conductor identity sends naming a destination that is not one of
   * the source's peers: the agent refuses it and the guest stays. Needs the hook in ComputeAgent
   * (PeerHosts.refuse before hv.migrate).
   */
  @Test
  void aStartMigrationToAnUnknownDestinationIsRefusedByTheAgent() throws Exception {
    assumeTrue(node != null, "no RabbitMQ server installed");
    Envelope start =
        Envelope.of(
                new StartMigration(VM2, "evil.example", false, false, false, 0, 500),
                new Sender("conductor", "controller"))
            .withMigration("7f3e2d1c-0b9a-4877-8665-544332211001", "evil")
            .withReplyTo(t.conductorQueue(), null);
    assertEquals(
        null,
        as(
            "conductor",
            ch ->
                ch.basicPublish(
                    t.commands(),
                    t.computeQueue("HostB"),
                    props("conductor", start),
                    bytes(start))));
    Pattern refused = Pattern.compile("evil\\.example is not a known peer|not a host name");
    Http.until(
        "the agent refused it",
        Duration.ofSeconds(20),
        () -> refused.matcher(LiveMigrationE2E.logText()).find());
    assertTrue(hv.get("HostB").domain(VM2).isPresent(), "vm2 still runs on HostB");
  }
}
