package io.livemigrate.common.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import io.livemigrate.common.broker.EmbeddedBroker;
import io.livemigrate.common.contract.AgentCommands.CleanupSource;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.testing.BrokerFixture;
import io.livemigrate.common.testing.Buses;
import io.livemigrate.common.testing.PrivateRabbit;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.rabbitmq.RabbitMQMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Delivery that loses nothing, against a private RabbitMQ node this test closes the connections of
 * and restarts: no ack on a channel the delivery did not come from, publishes confirmed across a
 * restart, unroutable commands parked, the broker's own delivery limit, and start-up on a topology
 * of an earlier version.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class BusDeliveryTest {
  static final String INSTANCE = "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a";
  static final Sender TEST = new Sender("bus-test", "testhost");

  PrivateRabbit node;
  Vertx vertx;

  @BeforeAll
  void start() throws Exception {
    vertx = Vertx.vertx();
    if (!PrivateRabbit.available()) {
      if ("true".equals(System.getenv("CI"))) throw new AssertionError("CI must have RabbitMQ");
      return;
    }
    node = PrivateRabbit.start("lmhb-delivery");
  }

  @AfterAll
  void stop() throws Exception {
    if (vertx != null) vertx.close().await(20, TimeUnit.SECONDS);
    if (node != null) node.close();
  }

  private BusSettings settings(String url) {
    return new BusSettings(url, BrokerFixture.freshNamespace(), 16, 3000, 200, 3);
  }

  private void needRabbit() {
    assumeTrue(node != null, "no RabbitMQ server installed");
  }

  private static Envelope message(String dest) {
    return Envelope.of(new CleanupSource(INSTANCE, dest), TEST);
  }

  @Test
  void aDeliveryFromAClosedConnectionIsNotAckedOnTheNewOne() throws Exception {
    needRabbit();
    try (Buses b = new Buses(vertx)) {
      SimpleMeterRegistry reg = new SimpleMeterRegistry();
      BusSettings s = settings(node.guestUrl());
      Bus bus = b.connect(s, TEST, reg);
      String q = s.topology().conductorQueue();
      Promise<Void> release = Promise.promise();
      List<String> calls = new CopyOnWriteArrayList<>();
      Envelope held = message("held");
      b.on(
          () ->
              bus.consume(
                  q,
                  List.of(),
                  SenderCheck.ANYONE,
                  (env, m) -> {
                    calls.add(env.id());
                    // The first message's handler runs across the connection loss.
                    return env.id().equals(held.id()) ? release.future() : Future.succeededFuture();
                  }));
      b.on(() -> bus.send(q, held));
      b.eventually("the handler runs", () -> calls.size() == 1);

      node.closeAllConnections();
      // The broker puts the unacked message back and redelivers it on the new connection, where
      // it waits for the handler that still runs.
      b.eventually(
          "reconnected and the message redelivered",
          () -> bus.isConnected() && Buses.count(reg, "livemigrate_bus_redelivered") >= 1);
      b.on(
          () -> {
            release.complete();
            return Future.succeededFuture();
          });
      b.eventually(
          "the old delivery is left alone",
          () -> Buses.count(reg, "livemigrate_bus_stale_deliveries") == 1);
      b.eventually(
          "its redelivery is acked as a duplicate",
          () -> Buses.count(reg, "livemigrate_bus_duplicates") == 1);
      Envelope after = message("after");
      b.on(() -> bus.send(q, after));
      b.eventually("a later message is handled", () -> calls.contains(after.id()));
      b.eventuallyAsync("the queue is empty", () -> bus.messageCount(q).map(n -> n == 0));
      assertEquals(List.of(held.id(), after.id()), calls, "each handled once");
      assertFalse(
          node.log().contains("unknown delivery tag"),
          "no ack reached the broker on a channel the delivery was not from");
      b.on(() -> bus.deleteTopology(List.of(q)));
    }
  }

  @Test
  void publishesUntilConfirmedSurviveABrokerRestart() throws Exception {
    needRabbit();
    try (Buses b = new Buses(vertx)) {
      SimpleMeterRegistry reg = new SimpleMeterRegistry();
      BusSettings s = settings(node.guestUrl());
      Bus bus = b.connect(s, TEST, reg);
      String q = s.topology().conductorQueue();
      Set<String> handled = ConcurrentHashMap.newKeySet();
      b.on(
          () ->
              bus.consume(
                  q,
                  List.of(),
                  SenderCheck.ANYONE,
                  (env, m) -> {
                    handled.add(env.id());
                    return Future.succeededFuture();
                  }));
      int n = 200;
      List<Envelope> sent = new ArrayList<>();
      for (int i = 0; i < n; i++) sent.add(message("m" + i));
      List<Future<Void>> confirmed = new ArrayList<>();
      Thread restart =
          new Thread(
              () -> {
                try {
                  node.restart();
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      b.on(
          () -> {
            // Half before the restart begins, the rest while it goes on.
            for (int i = 0; i < n / 2; i++) confirmed.add(bus.sendUntilConfirmed(q, sent.get(i)));
            restart.start();
            for (int i = n / 2; i < n; i++) {
              Envelope e = sent.get(i);
              long delay = 1 + (i - n / 2) * 20L;
              Promise<Void> p = Promise.promise();
              vertx.setTimer(delay, t -> bus.sendUntilConfirmed(q, e).onComplete(p));
              confirmed.add(p.future());
            }
            return Future.succeededFuture();
          });
      restart.join(120_000);
      b.on(() -> Future.all(confirmed));
      b.eventually("every confirmed message is handled", () -> handled.size() == n);
      for (Envelope e : sent) assertTrue(handled.contains(e.id()), "lost: " + e.id());
      System.out.printf(
          "BusDeliveryTest: %d messages confirmed across a node restart, %.0f publish retries,"
              + " %.0f duplicates skipped%n",
          n,
          Buses.count(reg, "livemigrate_bus_publish_retries"),
          Buses.count(reg, "livemigrate_bus_duplicates"));
      b.on(() -> bus.deleteTopology(List.of(q)));
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"rabbitmq", "embedded"})
  void aCommandNoQueueIsBoundForIsParkedAsUnroutable(String kind) throws Exception {
    EmbeddedBroker embedded = null;
    String url;
    if (kind.equals("rabbitmq")) {
      needRabbit();
      url = node.guestUrl();
    } else {
      embedded = EmbeddedBroker.start(0);
      url = embedded.url();
    }
    try (Buses b = new Buses(vertx)) {
      SimpleMeterRegistry reg = new SimpleMeterRegistry();
      BusSettings s = settings(url);
      Bus conductor = b.connect(s, new Sender("conductor", "ctl"), reg);
      Envelope lost = message("nowhere");
      b.on(() -> conductor.send(s.topology().computeQueue("NoSuchHost"), lost));
      RabbitMQMessage p = b.drain(conductor, s.topology().parkedQueue(), 1).get(0);
      Map<String, Object> h = p.properties().getHeaders();
      assertEquals("unroutable", String.valueOf(h.get("x-parked-cause")));
      assertEquals(
          s.topology().computeQueue("NoSuchHost"), String.valueOf(h.get("x-original-routing-key")));
      assertEquals(lost.id(), p.properties().getMessageId(), "original properties kept");
      assertEquals("cleanup_source", p.properties().getType());
      assertEquals(lost.toJson(), p.body().toJsonObject());
      assertEquals(
          1.0,
          Buses.count(
              reg,
              "livemigrate_bus_parked",
              "cause",
              "unroutable",
              "queue",
              s.topology().unroutable()));
      b.on(() -> conductor.deleteTopology(List.of()));
    } finally {
      if (embedded != null) embedded.close();
    }
  }

  @Test
  void theBrokerParksAMessageWhoseConsumerNeverAcksIt() throws Exception {
    needRabbit();
    try (Buses b = new Buses(vertx)) {
      BusSettings base = settings(node.guestUrl());
      BusSettings s =
          new BusSettings(
              base.url(),
              base.namespace(),
              16,
              3000,
              200,
              3,
              "auto",
              "",
              "quorum",
              2,
              BusSettings.Tls.DEFAULT);
      Bus bus = b.connect(s, TEST, new SimpleMeterRegistry());
      String q = s.topology().computeQueue("HostP");
      // Declares the quorum queue (delivery limit 2) without consuming from it.
      b.on(() -> bus.consume(q, List.of(), SenderCheck.ANYONE, (e, m) -> Future.succeededFuture()));
      b.on(() -> bus.close());
      Bus sender = b.connect(s, TEST, new SimpleMeterRegistry());
      Envelope poison = message("poison");
      b.on(() -> sender.send(q, poison));
      // A consumer that dies on the message every time: it is returned again and again.
      ConnectionFactory cf = new ConnectionFactory();
      cf.setUri(node.guestUrl());
      int deliveries = 0;
      try (Connection c = cf.newConnection()) {
        Channel ch = c.createChannel();
        for (int i = 0; i < 10; i++) {
          GetResponse r = ch.basicGet(q, false);
          if (r == null) break;
          deliveries++;
          ch.basicReject(r.getEnvelope().getDeliveryTag(), true);
        }
      }
      RabbitMQMessage p = b.drain(sender, s.topology().parkedQueue(), 1).get(0);
      assertEquals(poison.id(), p.properties().getMessageId());
      assertEquals(poison.toJson(), p.body().toJsonObject());
      assertTrue(
          String.valueOf(p.properties().getHeaders()).contains("delivery_limit"),
          "dead-lettered for its delivery limit: " + p.properties().getHeaders());
      assertEquals(3, deliveries, "delivered up to the limit, then parked by the broker");
      b.on(() -> sender.deleteTopology(List.of(q)));
    }
  }

  @Test
  void aTopologyOfAnEarlierVersionDoesNotStopStartUp() throws Exception {
    needRabbit();
    BusSettings s = settings(node.guestUrl());
    Topology t = s.topology();
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(node.guestUrl());
    try (Connection c = cf.newConnection()) {
      Channel ch = c.createChannel();
      // What the previous version declared: a direct commands exchange, classic queues.
      ch.exchangeDeclare(t.commands(), "direct", true);
      ch.queueDeclare(t.conductorQueue(), true, false, false, null);
      ch.queueDeclare(t.parkedQueue(), true, false, false, null);
    }
    try (Buses b = new Buses(vertx)) {
      SimpleMeterRegistry reg = new SimpleMeterRegistry();
      Bus bus = b.connect(s, new Sender("conductor", "ctl"), reg);
      List<String> got = new CopyOnWriteArrayList<>();
      b.on(
          () ->
              bus.consume(
                  t.conductorQueue(),
                  List.of(),
                  SenderCheck.ANYONE,
                  (env, m) -> {
                    got.add(env.id());
                    return Future.succeededFuture();
                  }));
      assertTrue(bus.topologyOutdated(), "the outdated topology is reported");
      assertEquals(1.0, reg.get("livemigrate_bus_topology_outdated").gauge().value());
      Envelope e = message("x");
      b.on(() -> bus.send(t.conductorQueue(), e));
      b.eventually("messages still flow", () -> got.contains(e.id()));
      assertTrue(
          node.ctlOk("list_queues", "name", "type").contains(t.conductorQueue() + "\tclassic"),
          "the classic queue is used as it is");
      b.on(() -> bus.deleteTopology(List.of(t.conductorQueue())));
    }
  }
}
