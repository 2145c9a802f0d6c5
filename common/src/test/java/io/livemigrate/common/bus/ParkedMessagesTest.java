package io.livemigrate.common.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.broker.EmbeddedBroker;
import io.livemigrate.common.contract.AgentCommands.CleanupSource;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.testing.BrokerFixture;
import io.livemigrate.common.testing.Buses;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
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
 * {@code livemigrate parked list|replay|drop} underneath: parked messages are listed without being
 * lost, replayed where they were going with their original properties and sender, or dropped; a
 * replay cannot put a message in another identity's name.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ParkedMessagesTest {
  static final String VM = "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a";

  Vertx vertx;
  EmbeddedBroker broker;

  @BeforeAll
  void start() throws Exception {
    vertx = Vertx.vertx();
    broker =
        EmbeddedBroker.start(
            EmbeddedBroker.Settings.plain(0)
                .withUsers(
                    Map.of(
                        "conductor", EmbeddedBroker.newPassword(),
                        "compute-HostC", EmbeddedBroker.newPassword())));
  }

  @AfterAll
  void stop() throws Exception {
    vertx.close().await(20, TimeUnit.SECONDS);
    broker.close();
  }

  @Test
  void listReplayAndDrop() throws Exception {
    String ns = BrokerFixture.freshNamespace();
    BusSettings s = new BusSettings(broker.url("conductor"), ns, 16, 5000, 200, 3);
    Topology t = s.topology();
    try (Buses b = new Buses(vertx)) {
      Bus conductor = b.connect(s, new Sender("conductor", "ctl"), new SimpleMeterRegistry());
      List<Envelope> handled = new CopyOnWriteArrayList<>();
      boolean[] reject = {true};
      b.on(
          () ->
              conductor.consume(
                  t.conductorQueue(),
                  List.of(),
                  (e, m) -> {
                    if (reject[0]) {
                      return Future.failedFuture(new InvalidMessageException("not today"));
                    }
                    handled.add(e);
                    return Future.succeededFuture();
                  }));
      Bus hostC =
          b.connect(
              s.withUrl(broker.url("compute-HostC")),
              new Sender("compute", "HostC"),
              new SimpleMeterRegistry());
      Envelope mine =
          Envelope.of(new CleanupSource(VM, "a"), conductor.sender()).withMigration("m1", "r1");
      Envelope theirs = Envelope.of(new CleanupSource(VM, "b"), hostC.sender());
      Envelope junk = Envelope.of(new CleanupSource(VM, "c"), conductor.sender());
      b.on(() -> conductor.send(t.conductorQueue(), mine));
      b.on(() -> hostC.send(t.conductorQueue(), theirs));
      b.on(() -> conductor.send(t.conductorQueue(), junk));
      b.eventuallyAsync(
          "three parked", () -> conductor.messageCount(t.parkedQueue()).map(n -> n == 3));

      ParkedMessages p = b.on(() -> ParkedMessages.open(vertx, s));
      List<ParkedMessages.Parked> listed = b.on(() -> p.list(100));
      assertEquals(3, listed.size());
      assertEquals(3L, b.on(() -> conductor.messageCount(t.parkedQueue())), "listing loses none");
      ParkedMessages.Parked first =
          listed.stream().filter(x -> x.id().equals(mine.id())).findFirst().orElseThrow();
      assertEquals("invalid", first.cause());
      assertEquals("not today", first.reason());
      assertEquals("conductor", first.userId());
      assertEquals(t.commands(), first.exchange());
      assertEquals(t.conductorQueue(), first.routingKey());
      assertEquals("cleanup_source", first.type());

      // Replayed where it was going, as it was sent.
      reject[0] = false;
      assertEquals(
          List.of(mine.id()),
          b.on(() -> p.replay(x -> x.id().equals(mine.id()), 100)).stream()
              .map(ParkedMessages.Parked::id)
              .toList());
      b.eventually("the replay is handled", () -> handled.size() == 1);
      assertEquals(mine.toJson(), handled.get(0).toJson());
      assertEquals("conductor", handled.get(0).userId(), "its original sender");

      // HostC's message cannot be replayed by the conductor in HostC's name.
      Throwable refused = b.failure(() -> p.replay(x -> x.id().equals(theirs.id()), 100));
      assertNotNull(refused, "a replay as another identity must be refused");
      p.close();
      ParkedMessages again = b.on(() -> ParkedMessages.open(vertx, s));
      assertEquals(2, b.on(() -> again.list(100)).size(), "the refused one is still parked");
      assertEquals(2, b.on(() -> again.drop(x -> true, 100)).size(), "drop --all removes the rest");
      assertEquals(0L, b.on(() -> conductor.messageCount(t.parkedQueue())));
      assertTrue(handled.stream().noneMatch(e -> e.id().equals(theirs.id())));
      b.on(again::close);
      b.on(() -> conductor.deleteTopology(List.of(t.conductorQueue())));
    }
  }
}
