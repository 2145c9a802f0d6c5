package io.livemigrate.cli.faults;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DeliverCallback;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Listens beside a fleet: every notification, and a copy of every command to the given queues
 * (bound under the same routing keys), counted per migration and type by distinct message id. A
 * message published twice with the same id (at least once) counts once; two ids for one effect are
 * a message handled twice in effect. Plain amqp-client, so it shares nothing with the code it
 * watches.
 */
final class Tap implements AutoCloseable {
  private final Connection connection;
  private final Channel channel;

  /** migration uuid -> type -> distinct ids. */
  private final Map<String, Map<String, Set<String>>> notifications = new ConcurrentHashMap<>();

  private final Map<String, Map<String, Set<String>>> commands = new ConcurrentHashMap<>();

  Tap(String brokerUrl, String namespace, List<String> commandQueues) throws Exception {
    ConnectionFactory f = new ConnectionFactory();
    f.setUri(brokerUrl);
    connection = f.newConnection("fault-tap");
    channel = connection.createChannel();
    String n = channel.queueDeclare("", false, true, true, null).getQueue();
    channel.exchangeDeclarePassive(namespace + ".notifications");
    channel.queueBind(n, namespace + ".notifications", "#");
    channel.basicConsume(n, true, count(notifications, true), tag -> {});
    String c = channel.queueDeclare("", false, true, true, null).getQueue();
    for (String q : commandQueues) channel.queueBind(c, namespace + ".commands", q);
    channel.basicConsume(c, true, count(commands, false), tag -> {});
  }

  private static DeliverCallback count(
      Map<String, Map<String, Set<String>>> into, boolean notification) {
    return (tag, d) -> {
      JsonObject j = new JsonObject(new String(d.getBody(), StandardCharsets.UTF_8));
      String migration;
      String type;
      String id;
      if (notification) {
        migration = j.getJsonObject("payload", new JsonObject()).getString("migration_uuid");
        type = j.getString("event_type");
        id = j.getString("message_id");
      } else {
        migration = j.getString("migrationId");
        type = j.getString("type");
        id = j.getString("id");
      }
      if (migration == null || type == null || id == null) return;
      into.computeIfAbsent(migration, k -> new ConcurrentHashMap<>())
          .computeIfAbsent(type, k -> ConcurrentHashMap.newKeySet())
          .add(id);
    };
  }

  /** Distinct notifications of one type about one migration. */
  int notifications(String migrationUuid, String type) {
    return notifications.getOrDefault(migrationUuid, Map.of()).getOrDefault(type, Set.of()).size();
  }

  /** Distinct commands of one type sent for one migration. */
  int commands(String migrationUuid, String type) {
    return commands.getOrDefault(migrationUuid, Map.of()).getOrDefault(type, Set.of()).size();
  }

  @Override
  public void close() throws Exception {
    connection.close();
  }
}
