package io.livemigrate.common.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.livemigrate.common.contract.AgentCommands.CleanupSource;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.InvalidMessageException;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.testing.BrokerFixture;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.rabbitmq.RabbitMQMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bus adapter against a real RabbitMQ and against the embedded broker: delivery and ack,
 * parking of everything that can never be handled, duplicate suppression and redelivery.
 *
 * <p>Every bus is created and used on one Vert.x context (the client's channel must only be used
 * from there); the test thread waits on futures with {@link Future#await(long, TimeUnit)}.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class BusTest {
  private static final Sender SENDER = new Sender("bus-test", "testhost");
  private static final long WAIT_MS = 20_000;
  private static final int MAX_DELIVERIES = 3;
  private static final String INSTANCE = "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a";

  private static Vertx vertx;
  private static BrokerFixture embedded;

  private Harness h;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stopAll() throws Exception {
    vertx.close().await(30, TimeUnit.SECONDS);
    if (embedded != null) embedded.close();
  }

  @AfterEach
  void cleanup() throws Exception {
    if (h != null) h.close();
  }

  static Stream<String> brokers() {
    return Stream.of("rabbitmq", "embedded");
  }

  private static synchronized BrokerFixture broker(String kind) throws Exception {
    if (kind.equals("rabbitmq")) {
      if ("true".equals(System.getenv("CI"))) {
        assertTrue(BrokerFixture.rabbitAnswers(), "CI must provide RabbitMQ on 127.0.0.1:5672");
      } else {
        assumeTrue(BrokerFixture.rabbitAnswers(), "no RabbitMQ on 127.0.0.1:5672");
      }
      return BrokerFixture.rabbitmq();
    }
    if (embedded == null) embedded = BrokerFixture.embedded();
    return embedded;
  }

  // ------------------------------------------------------------------ tests

  @ParameterizedTest(name = "{0}")
  @MethodSource("brokers")
  void validMessageReachesTheHandlerAndIsAcked(String kind) throws Exception {
    h = new Harness(broker(kind), (env, body) -> Future.succeededFuture());
    // A payload with a list: it must survive bytes -> JSON -> record on the wire.
    SelectDestinations req =
        new SelectDestinations(
            INSTANCE, "compute-1", null, 4, 8192, 40, List.of("compute-3", "compute-4"));
    Envelope sent =
        Envelope.of(req, SENDER)
            .withMigration("7f3e2d1c-0b9a-4877-8665-544332211001", "req-1")
            .withReplyTo("somewhere", "corr-1");

    h.on(() -> h.bus.send(h.queue, sent));
    h.eventually("the handler got the message", () -> h.received.size() == 1);

    Handled got = h.received.get(0);
    assertEquals(sent.id(), got.env.id());
    assertEquals(sent.toJson(), got.env.toJson(), "envelope arrives unchanged");
    assertEquals(req, got.body, "payload decodes into the sent record");
    assertEquals(1.0, h.count("livemigrate_bus_consumed", "type", "select_destinations"));
    assertEquals(1.0, h.count("livemigrate_bus_published", "outcome", "confirmed"));

    h.eventuallyAsync("the queue is empty", () -> h.bus.messageCount(h.queue).map(n -> n == 0));
    // An unacked message goes back to the queue when its channel closes, so after closing the
    // consuming bus it would be waiting there (a closed bus does not consume again, see
    // aClosedBusNoLongerConsumes).
    h.reopen();
    assertEquals(0L, h.on(() -> h.bus.messageCount(h.queue)), "message was acked");
    assertEquals(1, h.received.size(), "handled once");
    assertEquals(0L, h.on(() -> h.bus.messageCount(h.bus.topology().parkedQueue())));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("brokers")
  void eventsReachQueuesBoundToTheirRoutingKey(String kind) throws Exception {
    h = new Harness(broker(kind), List.of("migration.#"), (env, body) -> Future.succeededFuture());
    Envelope ev = Envelope.of(new CleanupSource(INSTANCE, "compute-2"), SENDER);
    h.on(() -> h.bus.event("migration.cleanup.compute-1", ev));
    h.on(
        () ->
            h.bus.event(
                "host.report.compute-1",
                Envelope.of(new CleanupSource(INSTANCE, "compute-3"), SENDER)));
    h.eventually("the bound event arrives", () -> h.received.size() == 1);
    assertEquals(ev.id(), h.received.get(0).env.id());
    Envelope marker = Envelope.of(new CleanupSource(INSTANCE, "compute-9"), SENDER);
    h.on(() -> h.bus.send(h.queue, marker));
    h.eventually("the marker arrives", () -> h.received.size() == 2);
    assertEquals(marker.id(), h.received.get(1).env.id(), "the unbound event never arrived");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("brokers")
  void unusableMessagesAreParkedAndTheConsumerGoesOn(String kind) throws Exception {
    h = new Harness(broker(kind), (env, body) -> Future.succeededFuture());
    String commands = h.bus.topology().commands();

    Buffer garbage = Buffer.buffer(new byte[] {(byte) 0xff, 'n', 'o', 't', ' ', '{', 0});
    JsonObject notAnEnvelope = new JsonObject().put("hello", "world");
    JsonObject unknownType =
        Envelope.of(new CleanupSource(INSTANCE, "compute-2"), SENDER)
            .toJson()
            .put("type", "teleport_instance");
    JsonObject invalidPayload =
        Envelope.of(new CleanupSource(INSTANCE, "compute-2"), SENDER).toJson();
    invalidPayload.getJsonObject("payload").put("instanceUuid", " ");

    h.on(() -> h.bus.publishRaw(commands, h.queue, garbage));
    h.on(() -> h.bus.publishRaw(commands, h.queue, notAnEnvelope.toBuffer()));
    h.on(() -> h.bus.publishRaw(commands, h.queue, unknownType.toBuffer()));
    h.on(() -> h.bus.publishRaw(commands, h.queue, invalidPayload.toBuffer()));
    Envelope valid = Envelope.of(new CleanupSource(INSTANCE, "compute-2"), SENDER);
    h.on(() -> h.bus.send(h.queue, valid));

    h.eventually("the valid message after the bad ones is handled", () -> h.received.size() == 1);
    assertEquals(valid.id(), h.received.get(0).env.id());

    List<Parked> parked = h.parked(4);
    assertEquals(4, parked.size(), "every unusable message is parked: " + parked);
    Parked p1 = find(parked, garbage);
    assertEquals("undecodable", p1.cause);
    assertTrue(p1.reason.contains("not JSON"), p1.reason);
    Parked p2 = find(parked, notAnEnvelope.toBuffer());
    assertEquals("invalid", p2.cause);
    assertTrue(p2.reason.contains("envelope.type is missing"), p2.reason);
    Parked p3 = find(parked, unknownType.toBuffer());
    assertEquals("invalid", p3.cause);
    assertTrue(p3.reason.contains("unknown message type 'teleport_instance'"), p3.reason);
    Parked p4 = find(parked, invalidPayload.toBuffer());
    assertEquals("invalid", p4.cause);
    assertTrue(p4.reason.contains("instanceUuid is required"), p4.reason);
    for (Parked p : parked) {
      assertEquals(h.queue, p.originalQueue, "x-original-queue");
      assertEquals("bus-test@testhost", p.parkedBy, "x-parked-by");
    }

    assertEquals(1.0, h.count("livemigrate_bus_parked", "cause", "undecodable"));
    assertEquals(3.0, h.count("livemigrate_bus_parked", "cause", "invalid"));
    assertEquals(4.0, h.count("livemigrate_bus_parked", "queue", h.queue));
    h.eventuallyAsync(
        "nothing left to deliver", () -> h.bus.messageCount(h.queue).map(n -> n == 0));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("brokers")
  void theSameMessageIdIsHandledOnce(String kind) throws Exception {
    h = new Harness(broker(kind), (env, body) -> Future.succeededFuture());
    Envelope env = Envelope.of(new CleanupSource(INSTANCE, "compute-2"), SENDER);

    h.on(() -> h.bus.send(h.queue, env));
    h.on(() -> h.bus.send(h.queue, env));

    h.eventually(
        "both deliveries are consumed",
        () -> h.count("livemigrate_bus_consumed", "type", "cleanup_source") == 2.0);
    h.eventually("the duplicate is counted", () -> h.count("livemigrate_bus_duplicates") == 1.0);
    // A marker sent after both proves the duplicate was not just still in flight.
    Envelope marker = Envelope.of(new CleanupSource(INSTANCE, "compute-7"), SENDER);
    h.on(() -> h.bus.send(h.queue, marker));
    h.eventually("the marker is handled", () -> h.received.size() == 2);
    assertEquals(env.id(), h.received.get(0).env.id());
    assertEquals(marker.id(), h.received.get(1).env.id(), "the duplicate reached the handler");
    assertEquals(1.0, h.count("livemigrate_bus_duplicates", "queue", h.queue));
    assertEquals(0.0, h.count("livemigrate_bus_parked"), "a duplicate is not parked");
    h.eventuallyAsync("the duplicate is acked", () -> h.bus.messageCount(h.queue).map(n -> n == 0));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("brokers")
  void aHandlerThatKeepsFailingGetsRedeliveriesThenParks(String kind) throws Exception {
    Envelope poison = Envelope.of(new CleanupSource(INSTANCE, "compute-2"), SENDER);
    List<String> attempts = new CopyOnWriteArrayList<>();
    h =
        new Harness(
            broker(kind),
            (env, body) -> {
              if (!env.id().equals(poison.id())) return Future.succeededFuture();
              attempts.add(env.id());
              throw new RuntimeException("store is down");
            });

    h.on(() -> h.bus.send(h.queue, poison));
    List<Parked> parked = h.parked(1);

    assertEquals(MAX_DELIVERIES, attempts.size(), "delivered maxDeliveries times, then parked");
    Parked p = parked.get(0);
    assertEquals("handler_failed", p.cause);
    assertTrue(p.reason.contains("handler failed " + MAX_DELIVERIES + " times"), p.reason);
    assertTrue(p.reason.contains("store is down"), p.reason);
    assertEquals(poison.toJson(), new JsonObject(p.body), "the original message is parked");
    assertEquals(1.0, h.count("livemigrate_bus_parked", "cause", "handler_failed"));
    assertEquals(
        (double) MAX_DELIVERIES - 1,
        h.count("livemigrate_bus_redelivered", "queue", h.queue),
        "the broker redelivered the failed attempts");

    Envelope next = Envelope.of(new CleanupSource(INSTANCE, "compute-5"), SENDER);
    h.on(() -> h.bus.send(h.queue, next));
    h.eventually("the consumer goes on", () -> h.received.size() == 1);
    assertEquals(next.id(), h.received.get(0).env.id());
    assertEquals(MAX_DELIVERIES, attempts.size(), "a parked message is not delivered again");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("brokers")
  void aHandlerRejectingTheMessageAsInvalidParksItAtOnce(String kind) throws Exception {
    List<String> attempts = new CopyOnWriteArrayList<>();
    h =
        new Harness(
            broker(kind),
            (env, body) -> {
              attempts.add(env.id());
              return Future.failedFuture(
                  new InvalidMessageException("cleanup_source is not a scheduler message"));
            });
    Envelope env = Envelope.of(new CleanupSource(INSTANCE, "compute-2"), SENDER);

    h.on(() -> h.bus.send(h.queue, env));
    List<Parked> parked = h.parked(1);

    assertEquals(List.of(env.id()), attempts, "no redelivery of an invalid message");
    assertEquals("invalid", parked.get(0).cause);
    assertEquals("cleanup_source is not a scheduler message", parked.get(0).reason);
    assertEquals(1.0, h.count("livemigrate_bus_parked", "cause", "invalid"));
    assertEquals(0.0, h.count("livemigrate_bus_redelivered"));
    h.eventuallyAsync(
        "nothing left to deliver", () -> h.bus.messageCount(h.queue).map(n -> n == 0));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("brokers")
  void aClosedBusNoLongerConsumes(String kind) throws Exception {
    h = new Harness(broker(kind), (env, body) -> Future.succeededFuture());
    Bus closed = h.bus;
    h.reopen();
    Envelope later = Envelope.of(new CleanupSource(INSTANCE, "compute-2"), SENDER);
    h.on(() -> h.bus.send(h.queue, later));
    h.eventuallyAsync(
        "the message waits in the queue", () -> h.bus.messageCount(h.queue).map(n -> n == 1));
    // Give a reconnecting consumer of the closed bus time to show up: 3 reconnect intervals.
    h.pause(3 * 500);
    assertEquals(List.of(), h.received, "the closed bus consumed a message");
    assertFalse(closed.isConnected(), "the closed bus reconnected");
    assertEquals(1L, h.on(() -> h.bus.messageCount(h.queue)), "the message is still queued");
  }

  // ------------------------------------------------------------------ harness

  private record Handled(Envelope env, Message body) {}

  private record Parked(
      String cause, String reason, String originalQueue, String parkedBy, Buffer body) {}

  private static Parked find(List<Parked> parked, Buffer body) {
    return parked.stream()
        .filter(p -> p.body.equals(body))
        .findFirst()
        .orElseThrow(() -> new AssertionError("not parked: " + body + " in " + parked));
  }

  /** One bus on one context, consuming one queue of a fresh namespace. */
  private static final class Harness {
    final BrokerFixture broker;
    final BusSettings settings;
    final Context ctx = vertx.getOrCreateContext();
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final List<Handled> received = new CopyOnWriteArrayList<>();
    final String queue;
    Bus bus;

    Harness(BrokerFixture broker, MessageHandler handler) throws Exception {
      this(broker, List.of(), handler);
    }

    Harness(BrokerFixture broker, List<String> eventKeys, MessageHandler handler) throws Exception {
      this.broker = broker;
      this.settings =
          new BusSettings(
              broker.url(), BrokerFixture.freshNamespace(), 16, 5000, 500, MAX_DELIVERIES);
      this.queue = settings.topology().conductorQueue();
      this.bus = connect();
      MessageHandler recording =
          (env, body) -> {
            Future<Void> f = handler.handle(env, body);
            return f.onSuccess(v -> received.add(new Handled(env, body)));
          };
      on(() -> bus.consume(queue, eventKeys, recording));
    }

    private Bus connect() throws Exception {
      return on(() -> Bus.connect(vertx, settings, SENDER, registry));
    }

    /** Closes the bus and connects a new one to the same namespace, without consuming. */
    void reopen() throws Exception {
      on(() -> bus.close());
      bus = connect();
    }

    /** Runs {@code op} on the bus's context and waits for its result. */
    <T> T on(Supplier<Future<T>> op) throws Exception {
      Promise<T> p = Promise.promise();
      ctx.runOnContext(
          v -> {
            try {
              op.get().onComplete(p);
            } catch (Throwable t) {
              p.fail(t);
            }
          });
      return p.future().await(WAIT_MS + 10_000, TimeUnit.MILLISECONDS);
    }

    /** Lets {@code ms} pass on a Vert.x timer, for checks that something does not happen. */
    void pause(long ms) throws Exception {
      on(
          () -> {
            Promise<Void> p = Promise.promise();
            vertx.setTimer(ms, t -> p.complete());
            return p.future();
          });
    }

    void eventually(String what, Supplier<Boolean> condition) throws Exception {
      eventuallyAsync(what, () -> Future.succeededFuture(condition.get()));
    }

    /** Polls {@code condition} on the context with short timers until true or the deadline. */
    void eventuallyAsync(String what, Supplier<Future<Boolean>> condition) throws Exception {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
      on(
          () -> {
            Promise<Void> done = Promise.promise();
            poll(what, condition, deadline, done);
            return done.future();
          });
    }

    private void poll(
        String what, Supplier<Future<Boolean>> condition, long deadline, Promise<Void> done) {
      condition
          .get()
          .onComplete(
              ar -> {
                if (ar.succeeded() && Boolean.TRUE.equals(ar.result())) {
                  done.complete();
                } else if (System.nanoTime() > deadline) {
                  done.fail(
                      new AssertionError(
                          "timed out waiting until "
                              + what
                              + (ar.failed() ? " (" + ar.cause() + ")" : "")));
                } else {
                  vertx.setTimer(25, t -> poll(what, condition, deadline, done));
                }
              });
    }

    /** Takes {@code n} messages off the parking queue, waiting for them to arrive. */
    List<Parked> parked(int n) throws Exception {
      List<Parked> out = new ArrayList<>();
      String parkedQueue = bus.topology().parkedQueue();
      eventuallyAsync(
          n + " parked message(s)",
          () ->
              bus.get(parkedQueue)
                  .map(
                      m -> {
                        if (m != null) out.add(parked(m));
                        return out.size() >= n;
                      }));
      assertEquals(0L, on(() -> bus.messageCount(parkedQueue)), "more parked than expected");
      return out;
    }

    private static Parked parked(RabbitMQMessage m) {
      Map<String, Object> headers = m.properties().getHeaders();
      assertNotNull(headers, "a parked message carries headers");
      return new Parked(
          String.valueOf(headers.get("x-parked-cause")),
          String.valueOf(headers.get("x-parked-reason")),
          String.valueOf(headers.get("x-original-queue")),
          String.valueOf(headers.get("x-parked-by")),
          m.body());
    }

    /** Sum of the counters named {@code name} with the given tags (key, value, ...). */
    double count(String name, String... tags) {
      return registry.find(name).tags(tags).counters().stream().mapToDouble(Counter::count).sum();
    }

    void close() throws Exception {
      try {
        on(() -> bus.deleteTopology(List.of(queue)));
      } finally {
        on(() -> bus.close());
        registry.close();
      }
    }
  }
}
