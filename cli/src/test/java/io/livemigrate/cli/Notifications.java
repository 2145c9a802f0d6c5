package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What automation sees: a server-named queue bound to every notification of a bus namespace, as any
 * consumer would bind one, and the check of a notification against its golden sample in
 * docs/notifications/ (same keys and JSON types, same version).
 */
final class Notifications implements AutoCloseable {
  static final Path GOLDEN = Tools.ROOT.resolve("docs/notifications");

  private final Connection amqp;
  private final List<JsonObject> received = new CopyOnWriteArrayList<>();

  private Notifications(Connection amqp) {
    this.amqp = amqp;
  }

  /** Binds a queue of its own to {@code <namespace>.notifications}, every routing key. */
  static Notifications listen(String brokerUrl, String namespace) throws Exception {
    ConnectionFactory f = new ConnectionFactory();
    f.setUri(brokerUrl);
    Notifications n = new Notifications(f.newConnection("notifications-test"));
    Channel ch = n.amqp.createChannel();
    // Server-named and exclusive: gone with the connection.
    String q = ch.queueDeclare().getQueue();
    ch.queueBind(q, namespace + ".notifications", "#");
    ch.basicConsume(
        q,
        true,
        (tag, d) -> n.received.add(new JsonObject(new String(d.getBody(), StandardCharsets.UTF_8))),
        tag -> {});
    return n;
  }

  /** Every notification so far, in arrival order. */
  List<JsonObject> all() {
    return List.copyOf(received);
  }

  List<JsonObject> ofType(String type) {
    return received.stream().filter(n -> type.equals(n.getString("event_type"))).toList();
  }

  /** The first notification of {@code type} whose payload has {@code key} = {@code value}. */
  JsonObject await(String type, String key, Object value, Duration within) throws Exception {
    Http.until(
        type + " with " + key + "=" + value,
        within,
        () -> ofType(type).stream().anyMatch(n -> value.equals(payloadValue(n, key))));
    return ofType(type).stream()
        .filter(n -> value.equals(payloadValue(n, key)))
        .findFirst()
        .orElseThrow();
  }

  private static Object payloadValue(JsonObject n, String key) {
    return n.getJsonObject("payload").getValue(key);
  }

  /** Asserts {@code n} has its event type's sample's version, keys and JSON types. */
  static void assertMatchesSample(JsonObject n) throws Exception {
    String type = n.getString("event_type");
    JsonObject sample = new JsonObject(Files.readString(GOLDEN.resolve(type + ".json")));
    assertEquals(sample.getString("version"), n.getString("version"), type + " version");
    sameShape(type, sample, n);
  }

  /** Same keys, recursively, and the same JSON types where both values are non-null. */
  private static void sameShape(String where, Object golden, Object actual) {
    if (golden == null || actual == null) return;
    if (golden instanceof JsonObject g) {
      assertTrue(actual instanceof JsonObject, where + " is an object: " + actual);
      JsonObject a = (JsonObject) actual;
      assertEquals(new TreeSet<>(g.fieldNames()), new TreeSet<>(a.fieldNames()), where + " keys");
      for (String k : g.fieldNames()) sameShape(where + "." + k, g.getValue(k), a.getValue(k));
    } else if (golden instanceof JsonArray g) {
      assertTrue(actual instanceof JsonArray, where + " is an array: " + actual);
      if (!g.isEmpty()) {
        for (Object x : (JsonArray) actual) sameShape(where + "[]", g.getValue(0), x);
      }
    } else if (golden instanceof Number) {
      assertTrue(actual instanceof Number, where + " is a number: " + actual);
    } else {
      assertEquals(golden.getClass(), actual.getClass(), where + " type");
    }
  }

  @Override
  public void close() throws Exception {
    amqp.close();
  }
}
