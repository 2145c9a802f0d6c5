package io.livemigrate.common.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.ShutdownSignalException;
import io.livemigrate.common.broker.EmbeddedBroker;
import io.livemigrate.common.broker.RabbitSetup;
import io.livemigrate.common.contract.AgentCommands.StartMigration;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.testing.Buses;
import io.livemigrate.common.testing.PrivateRabbit;
import io.livemigrate.common.testing.RabbitUsers;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.rabbitmq.RabbitMQMessage;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * One broker user per service and per compute host: what RabbitMQ refuses outright (with the
 * permissions {@code livemigrate setup rabbitmq} sets), and what it lets through but the receiving
 * bus parks, on a private RabbitMQ node; and the same receiver checks on the embedded broker, which
 * validates {@code user_id} too.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class BusIdentityTest {
  static final String NS = "livemigrate";
  static final String VHOST = "lm-identity";
  static final String INSTANCE = "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a";
  static final String MIGRATION = "7f3e2d1c-0b9a-4877-8665-544332211001";

  final Topology t = new Topology(NS);
  final Identities ids = Identities.of("", true);
  PrivateRabbit node;
  RabbitUsers users;
  Vertx vertx;

  @BeforeAll
  void start() throws Exception {
    vertx = Vertx.vertx();
    if (!PrivateRabbit.available()) {
      if ("true".equals(System.getenv("CI"))) throw new AssertionError("CI must have RabbitMQ");
      return;
    }
    node = PrivateRabbit.start("lmhb-identity");
    users = RabbitUsers.create(node, VHOST, t, ids, List.of("HostB", "HostC"));
  }

  @AfterAll
  void stop() throws Exception {
    if (vertx != null) vertx.close().await(20, TimeUnit.SECONDS);
    if (node != null) node.close();
  }

  private void needRabbit() {
    assumeTrue(node != null, "no RabbitMQ server installed");
  }

  private BusSettings settings(String url) {
    return new BusSettings(url, NS, 16, 5000, 200, 3);
  }

  // ------------------------------------------------------------------ the broker refuses

  @Test
  void rabbitmqRefusesWhatAComputeHostMayNotDo() throws Exception {
    needRabbit();
    // The queues exist: the conductor and both agents declared them.
    try (Buses b = new Buses(vertx)) {
      Bus conductor =
          b.connect(
              settings(users.url("conductor")),
              new Sender("conductor", "ctl"),
              new SimpleMeterRegistry());
      b.on(
          () ->
              conductor.consume(t.conductorQueue(), List.of(), (e, m) -> Future.succeededFuture()));
      for (String h : List.of("HostB", "HostC")) {
        Bus agent =
            b.connect(
                settings(users.url("compute-" + h)),
                new Sender("compute", h),
                new SimpleMeterRegistry());
        b.on(() -> agent.consume(t.computeQueue(h), List.of(), (e, m) -> Future.succeededFuture()));
        assertTrue(agent.identities().verifying(), "own login: checks on");
      }
      String c = users.url("compute-HostC");
      byte[] body = "{}".getBytes();
      Map<String, String> refusals =
          Map.of(
              "publish as compute-HostB",
              refused(
                  c,
                  ch ->
                      ch.basicPublish(t.commands(), t.conductorQueue(), as("compute-HostB"), body)),
              "publish as the conductor",
              refused(
                  c,
                  ch -> ch.basicPublish(t.commands(), t.conductorQueue(), as("conductor"), body)),
              "a command to compute.HostB",
              refused(
                  c,
                  ch ->
                      ch.basicPublish(
                          t.commands(), t.computeQueue("HostB"), as("compute-HostC"), body)),
              "a report routed as HostB's",
              refused(
                  c,
                  ch ->
                      ch.basicPublish(t.events(), "host.report.HostB", as("compute-HostC"), body)),
              "the default exchange, straight into compute.HostB",
              refused(
                  c, ch -> ch.basicPublish("", t.computeQueue("HostB"), as("compute-HostC"), body)),
              "consume compute.HostB",
              refused(
                  c,
                  ch -> ch.basicConsume(t.computeQueue("HostB"), true, (tag, d) -> {}, tag -> {})),
              "bind its queue to HostB's commands",
              refused(
                  c,
                  ch ->
                      ch.queueBind(t.computeQueue("HostC"), t.commands(), t.computeQueue("HostB"))),
              "declare compute.HostB",
              refused(c, ch -> ch.queueDeclare(t.computeQueue("HostB"), true, false, false, null)),
              "delete the commands exchange",
              refused(c, ch -> ch.exchangeDelete(t.commands())));
      refusals.forEach(
          (what, reason) -> {
            assertNotNull(reason, what + " must be refused by the broker");
            assertTrue(
                reason.contains("ACCESS_REFUSED") || reason.contains("PRECONDITION_FAILED"),
                what + ": " + reason);
          });
      assertTrue(
          refusals
              .get("publish as compute-HostB")
              .contains("user_id property set to 'compute-HostB'"),
          refusals.get("publish as compute-HostB"));
      // What it may do.
      assertNull(
          refused(
              c,
              ch -> ch.basicPublish(t.commands(), t.conductorQueue(), as("compute-HostC"), body)));
      assertNull(
          refused(
              c,
              ch -> ch.basicPublish(t.events(), "host.report.HostC", as("compute-HostC"), body)));
      assertNull(
          refused(c, ch -> ch.basicPublish(t.parkingExchange(), "", as("compute-HostC"), body)));
      // The scheduler answers the conductor and nobody else.
      String s = users.url("scheduler");
      assertNull(
          refused(
              s, ch -> ch.basicPublish(t.commands(), t.conductorQueue(), as("scheduler"), body)));
      assertNotNull(
          refused(
              s,
              ch -> ch.basicPublish(t.commands(), t.computeQueue("HostB"), as("scheduler"), body)));
      System.out.println("BusIdentityTest: the broker refused " + refusals);
    }
  }

  private static AMQP.BasicProperties as(String user) {
    return new AMQP.BasicProperties.Builder().userId(user).deliveryMode(2).build();
  }

  interface ChannelOp {
    void run(Channel ch) throws Exception;
  }

  /** Null when {@code op} went through (confirmed), else why the broker closed the channel. */
  static String refused(String url, ChannelOp op) {
    ConnectionFactory cf = new ConnectionFactory();
    try {
      cf.setUri(url);
      try (Connection c = cf.newConnection("identity-test")) {
        Channel ch = c.createChannel();
        ch.confirmSelect();
        op.run(ch);
        ch.waitForConfirmsOrDie(5000);
        return null;
      }
    } catch (ShutdownSignalException e) {
      return e.getMessage();
    } catch (Exception e) {
      for (Throwable x = e; x != null; x = x.getCause()) {
        if (x instanceof ShutdownSignalException sse) return sse.getMessage();
      }
      return e.toString();
    }
  }

  // ------------------------------------------------------------------ the receiver parks

  @Test
  void theConductorParksReportsAndRepliesAComputeHostSendsForAnother() throws Exception {
    needRabbit();
    for (String q : List.of(t.conductorQueue(), t.parkedQueue())) {
      node.ctl("purge_queue", "-p", VHOST, q); // what the other test left
    }
    try (Buses b = new Buses(vertx)) {
      SimpleMeterRegistry reg = new SimpleMeterRegistry();
      List<Envelope> handled = new CopyOnWriteArrayList<>();
      Bus conductor =
          b.connect(settings(users.url("conductor")), new Sender("conductor", "ctl"), reg);
      b.on(
          () ->
              conductor.consume(
                  t.conductorQueue(),
                  List.of("host.#"),
                  (e, m) -> {
                    handled.add(e);
                    return Future.succeededFuture();
                  }));
      Bus hostC =
          b.connect(
              settings(users.url("compute-HostC")),
              new Sender("compute", "HostC"),
              new SimpleMeterRegistry());
      // Routed as HostC's own report (the broker allows that key), but about HostB.
      Envelope forgedReport = Envelope.of(report("HostB"), hostC.sender());
      b.on(() -> hostC.event("host.report.HostC", forgedReport));
      // A reply claiming to come from HostB's agent.
      Envelope forgedReply =
          Envelope.of(StepResult.ok("prepare_destination"), new Sender("compute", "HostB"))
              .withMigration(MIGRATION, "req-1");
      b.on(() -> hostC.send(t.conductorQueue(), forgedReply));
      Envelope genuine = Envelope.of(report("HostC"), hostC.sender());
      b.on(() -> hostC.event("host.report.HostC", genuine));

      b.eventually("the genuine report is handled", () -> handled.size() == 1);
      assertEquals(genuine.id(), handled.get(0).id());
      assertEquals("compute-HostC", handled.get(0).userId(), "the verified sender");
      List<RabbitMQMessage> parked = b.drain(conductor, t.parkedQueue(), 2);
      Map<String, String> reasons = new java.util.HashMap<>();
      for (RabbitMQMessage m : parked) {
        Map<String, Object> h = m.properties().getHeaders();
        assertEquals("forbidden", String.valueOf(h.get("x-parked-cause")));
        assertEquals("compute-HostC", String.valueOf(h.get("x-original-user-id")));
        assertEquals("conductor", m.properties().getUserId(), "parked under the parker's login");
        assertEquals(t.conductorQueue(), String.valueOf(h.get("x-original-queue")));
        reasons.put(m.properties().getMessageId(), String.valueOf(h.get("x-parked-reason")));
      }
      assertTrue(
          reasons.get(forgedReport.id()).contains("may not send host_report for host HostB"),
          reasons.toString());
      assertTrue(
          reasons.get(forgedReply.id()).contains("claims to be sender compute@HostB"),
          reasons.toString());
      assertEquals(2.0, Buses.count(reg, "livemigrate_bus_parked", "cause", "forbidden"));
      assertEquals(1, handled.size(), "nothing forged reached the handler");
    }
  }

  @Test
  void theEmbeddedBrokerValidatesUserIdAndAgentsTakeCommandsOnlyFromTheConductor()
      throws Exception {
    Map<String, String> pw =
        Map.of(
            "conductor", EmbeddedBroker.newPassword(),
            "compute-HostB", EmbeddedBroker.newPassword(),
            "compute-HostC", EmbeddedBroker.newPassword());
    try (EmbeddedBroker broker =
            EmbeddedBroker.start(EmbeddedBroker.Settings.plain(0).withUsers(pw));
        Buses b = new Buses(vertx)) {
      String ns = "lmid" + System.nanoTime();
      Topology tt = new Topology(ns);
      // The embedded broker has no per-queue permissions, only user_id validation.
      String refusal =
          refused(
              broker.url("compute-HostC"),
              ch -> {
                ch.queueDeclare("q", false, false, true, null);
                ch.basicPublish("", "q", as("conductor"), "{}".getBytes());
              });
      assertNotNull(refusal, "user_id conductor from compute-HostC must be refused");

      SimpleMeterRegistry reg = new SimpleMeterRegistry();
      List<Envelope> handled = new CopyOnWriteArrayList<>();
      BusSettings base = new BusSettings(broker.url("conductor"), ns, 16, 5000, 200, 3);
      Bus conductor = b.connect(base, new Sender("conductor", "ctl"), new SimpleMeterRegistry());
      Bus hostB =
          b.connect(base.withUrl(broker.url("compute-HostB")), new Sender("compute", "HostB"), reg);
      b.on(
          () ->
              hostB.consume(
                  tt.computeQueue("HostB"),
                  List.of(),
                  (e, m) -> {
                    handled.add(e);
                    return Future.succeededFuture();
                  }));
      Bus hostC =
          b.connect(
              base.withUrl(broker.url("compute-HostC")),
              new Sender("compute", "HostC"),
              new SimpleMeterRegistry());
      Message start = new StartMigration(INSTANCE, "evil.example", false, false, false, 0, 500);
      Envelope forged =
          Envelope.of(start, new Sender("conductor", "ctl")).withMigration(MIGRATION, "r");
      b.on(() -> hostC.send(tt.computeQueue("HostB"), forged));
      Envelope genuine = Envelope.of(start, conductor.sender()).withMigration(MIGRATION, "r");
      b.on(() -> conductor.send(tt.computeQueue("HostB"), genuine));
      b.eventually("the conductor's command is handled", () -> handled.size() == 1);
      assertEquals(genuine.id(), handled.get(0).id());
      assertEquals("conductor", handled.get(0).userId());
      RabbitMQMessage p = b.drain(conductor, tt.parkedQueue(), 1).get(0);
      assertEquals("forbidden", String.valueOf(p.properties().getHeaders().get("x-parked-cause")));
      assertTrue(
          String.valueOf(p.properties().getHeaders().get("x-parked-reason"))
              .contains("user_id compute-HostC may not send start_migration here (only conductor)"),
          String.valueOf(p.properties().getHeaders()));
      assertEquals(1.0, Buses.count(reg, "livemigrate_bus_parked", "cause", "forbidden"));
      b.on(() -> conductor.deleteTopology(List.of(tt.computeQueue("HostB"))));
    }
  }

  @Test
  void aDefinitionsFileSetsUpTheSameUsersPermissionsAndTopology() throws Exception {
    needRabbit();
    // Other users than the other tests' (a prefix), in a vhost of their own.
    Identities defs = Identities.of("defs-", true);
    Map<String, String> pw =
        Map.of(
            "defs-conductor", EmbeddedBroker.newPassword(),
            "defs-scheduler", EmbeddedBroker.newPassword(),
            "defs-compute-HostD", EmbeddedBroker.newPassword());
    var d =
        RabbitSetup.definitions(
            "lm-defs", RabbitSetup.users(t, defs, List.of("HostD"), pw), t, "quorum", true);
    assertTrue(!d.encode().contains(pw.get("defs-compute-HostD")), "no password in clear");
    java.nio.file.Path file = java.nio.file.Files.createTempFile("lm-defs", ".json");
    java.nio.file.Files.writeString(file, d.encodePrettily());
    node.ctlOk("import_definitions", file.toString());
    String url = node.url("defs-compute-HostD", pw.get("defs-compute-HostD"), "lm-defs");
    try (Buses b = new Buses(vertx)) {
      assertNull(b.failure(() -> Bus.probe(vertx, settings(url))), "the hashed password works");
    }
    assertNull(
        refused(
            url,
            ch ->
                ch.basicPublish(
                    t.events(), "host.report.HostD", as("defs-compute-HostD"), new byte[0])));
    assertNotNull(
        refused(
            url,
            ch ->
                ch.basicPublish(
                    t.events(), "host.report.HostB", as("defs-compute-HostD"), new byte[0])));
    assertTrue(
        node.ctlOk("list_exchanges", "-p", "lm-defs", "name", "type")
            .contains(t.commands() + "\ttopic"),
        "the topology came with it");
  }

  @Test
  void theShippedDefinitionsAreWhatSetupGenerates() throws Exception {
    var hosts = List.of("HostA", "HostB", "HostC");
    Map<String, String> pw = new java.util.HashMap<>();
    for (String u : List.of("conductor", "scheduler")) pw.put(u, "x");
    for (String h : hosts) pw.put(ids.compute(h), "x");
    var d =
        RabbitSetup.definitions(
            "livemigrate", RabbitSetup.users(t, ids, hosts, pw), t, "quorum", true);
    for (Object u : d.getJsonArray("users"))
      ((io.vertx.core.json.JsonObject) u).put("password_hash", "");
    var shipped =
        new io.vertx.core.json.JsonObject(
            java.nio.file.Files.readString(
                java.nio.file.Path.of("../deploy/rabbitmq/definitions.json")));
    assertEquals(d, shipped, "deploy/rabbitmq/definitions.json is out of date");
  }

  @Test
  void aSharedLoginKeepsTheChecksOff() {
    Sender agent = new Sender("compute", "HostB");
    assertTrue(!Identities.resolve("auto", "", "guest", agent).verifying(), "guest: off");
    assertTrue(Identities.resolve("auto", "", "compute-HostB", agent).verifying(), "own: on");
    assertTrue(!Identities.resolve("auto", "", "compute-HostC", agent).verifying(), "other: off");
    assertTrue(Identities.resolve("true", "", "guest", agent).verifying(), "forced on");
    assertTrue(!Identities.resolve("false", "", "compute-HostB", agent).verifying(), "forced off");
    Identities off = Identities.resolve("auto", "", "guest", agent);
    Envelope anything = Envelope.of(report("HostB"), new Sender("compute", "HostC"));
    assertNull(off.members().refuse(anything, report("HostB")));
    assertNull(off.onlyFrom("conductor").refuse(anything, report("HostB")));
    assertTrue(off.sentByCompute(anything, "HostA"));
    Identities on = Identities.of("eu1-", true);
    assertEquals("eu1-compute-HostB", on.compute("HostB"));
    assertEquals("HostB", on.hostOf("eu1-compute-HostB").orElseThrow());
    assertTrue(on.hostOf("eu1-conductor").isEmpty());
    assertTrue(on.hostOf("compute-HostB").isEmpty(), "another deployment's user");
    assertNotNull(on.members().refuse(anything.withUserId("eu1-compute-HostB"), null));
    assertNull(on.members().refuse(anything.withUserId("eu1-compute-HostC"), null));
    assertNotNull(on.members().refuse(anything, null), "no user_id");
  }

  static HostReport report(String host) {
    return new HostReport(host, "nova", "QEMU", 9000000L, 16, 32768, 500, false, false, List.of());
  }
}
