package io.livemigrate.common.broker;

import io.livemigrate.common.bus.Identities;
import io.livemigrate.common.bus.Topology;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The RabbitMQ users, permissions and topic permissions of a deployment, one user per service and
 * per compute host, and the shared topology; as {@code rabbitmqctl} commands or as a definitions
 * file ({@code rabbitmqctl import_definitions}). Used by {@code livemigrate setup rabbitmq}.
 *
 * <p>What each identity may do (N = the bus namespace):
 *
 * <ul>
 *   <li>{@code conductor}: declare the shared exchanges and queues, publish commands to any queue,
 *       read its own queue, the parked and the unroutable queue.
 *   <li>{@code scheduler}: declare and read {@code N.scheduler}; publish on the commands exchange
 *       only to {@code N.conductor} (its replies); park.
 *   <li>{@code compute-<host>}: declare and read only {@code N.compute.<host>}; publish on the
 *       commands exchange only to {@code N.conductor} (replies and migration events), on the events
 *       exchange only {@code service.heartbeat.<host>} and {@code host.report.<host>}; park.
 * </ul>
 *
 * <p>No service may write to the default exchange (it would reach every queue past the topic
 * permissions), so parking goes through {@code N.parking}. Topic permissions only restrict topic
 * exchanges, hence the commands exchange is one.
 */
public final class RabbitSetup {
  private RabbitSetup() {}

  /** configure / write / read regular expressions of one user on the vhost. */
  public record Permissions(String configure, String write, String read) {}

  /** Routing keys one user may publish ({@code write}) or bind ({@code read}) on one exchange. */
  public record TopicPermission(String exchange, String write, String read) {}

  /** One broker user of the deployment. */
  public record User(
      String name, String password, Permissions permissions, List<TopicPermission> topics) {}

  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

  /** A host name usable in a queue name and a user name, or an IllegalArgumentException. */
  public static String checkHost(String host) {
    if (host == null || !HOST.matcher(host).matches()) {
      throw new IllegalArgumentException("'" + host + "' is not a valid compute host name");
    }
    return host;
  }

  /**
   * Every user of a deployment.
   *
   * @param passwords by user name; a missing one is an error (the caller generates or reads them)
   */
  public static List<User> users(
      Topology t, Identities ids, List<String> hosts, Map<String, String> passwords) {
    String n = quote(t.namespace());
    List<User> users = new ArrayList<>();
    users.add(
        new User(
            ids.conductor(),
            password(passwords, ids.conductor()),
            new Permissions(
                "^" + n + "\\.(commands|events|notifications|parking|parked|unroutable|conductor)$",
                "^" + n + "\\.(commands|events|notifications|parking|parked|unroutable|conductor)$",
                "^" + n + "\\.(commands|events|parking|parked|unroutable|conductor)$"),
            List.of(
                new TopicPermission(t.commands(), ".*", "^" + quote(t.conductorQueue()) + "$"),
                new TopicPermission(t.events(), ".*", ".*"),
                new TopicPermission(t.notifications(), ".*", "^$"))));
    users.add(
        new User(
            ids.scheduler(),
            password(passwords, ids.scheduler()),
            new Permissions(
                "^" + quote(t.schedulerQueue()) + "$",
                "^" + n + "\\.(commands|parking|scheduler)$",
                "^" + n + "\\.(commands|events|scheduler)$"),
            List.of(
                new TopicPermission(
                    t.commands(),
                    "^" + quote(t.conductorQueue()) + "$",
                    "^" + quote(t.schedulerQueue()) + "$"),
                new TopicPermission(t.events(), "^$", "^(service|host)\\.#$"))));
    for (String host : hosts) {
      checkHost(host);
      String q = quote(t.computeQueue(host));
      String h = quote(host);
      users.add(
          new User(
              ids.compute(host),
              password(passwords, ids.compute(host)),
              new Permissions(
                  "^" + q + "$",
                  "^(" + n + "\\.(commands|events|parking)|" + q + ")$",
                  "^(" + n + "\\.commands|" + q + ")$"),
              List.of(
                  new TopicPermission(
                      t.commands(), "^" + quote(t.conductorQueue()) + "$", "^" + q + "$"),
                  new TopicPermission(
                      t.events(), "^(service\\.heartbeat|host\\.report)\\." + h + "$", "^$"))));
    }
    return users;
  }

  private static String password(Map<String, String> passwords, String user) {
    String p = passwords.get(user);
    if (p == null || p.isEmpty()) throw new IllegalArgumentException("no password for " + user);
    return p;
  }

  /** {@code s} with every regular-expression character escaped (RabbitMQ uses PCRE). */
  static String quote(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      if ("\\^$.|?*+()[]{}".indexOf(c) >= 0) b.append('\\');
      b.append(c);
    }
    return b.toString();
  }

  /**
   * A definitions document for {@code rabbitmqctl import_definitions}: the vhost, the users
   * (passwords as RabbitMQ's salted SHA-256 hashes, never in clear), their permissions and topic
   * permissions, and, when {@code withTopology}, the shared exchanges and queues.
   */
  public static JsonObject definitions(
      String vhost, List<User> users, Topology t, String queueType, boolean withTopology) {
    JsonArray u = new JsonArray();
    JsonArray perms = new JsonArray();
    JsonArray topics = new JsonArray();
    for (User user : users) {
      u.add(
          new JsonObject()
              .put("name", user.name())
              .put("password_hash", passwordHash(user.password()))
              .put("hashing_algorithm", "rabbit_password_hashing_sha256")
              .put("tags", ""));
      perms.add(
          new JsonObject()
              .put("user", user.name())
              .put("vhost", vhost)
              .put("configure", user.permissions().configure())
              .put("write", user.permissions().write())
              .put("read", user.permissions().read()));
      for (TopicPermission tp : user.topics()) {
        topics.add(
            new JsonObject()
                .put("user", user.name())
                .put("vhost", vhost)
                .put("exchange", tp.exchange())
                .put("write", tp.write())
                .put("read", tp.read()));
      }
    }
    JsonObject d =
        new JsonObject()
            .put("users", u)
            .put("vhosts", new JsonArray().add(new JsonObject().put("name", vhost)))
            .put("permissions", perms)
            .put("topic_permissions", topics);
    if (withTopology) d.mergeIn(topology(vhost, t, queueType));
    return d;
  }

  /**
   * The shared topology the conductor also declares at start: so that agents and the scheduler,
   * which may not declare exchanges, can start first.
   */
  public static JsonObject topology(String vhost, Topology t, String queueType) {
    JsonObject qargs =
        "quorum".equals(queueType)
            ? new JsonObject().put("x-queue-type", "quorum")
            : new JsonObject();
    JsonArray exchanges =
        new JsonArray()
            .add(exchange(vhost, t.unroutable(), "fanout", new JsonObject()))
            .add(exchange(vhost, t.parkingExchange(), "fanout", new JsonObject()))
            .add(
                exchange(
                    vhost,
                    t.commands(),
                    "topic",
                    new JsonObject()
                        .put("alternate-exchange", t.unroutable())
                        .put("alternateExchange", t.unroutable())))
            .add(exchange(vhost, t.events(), "topic", new JsonObject()))
            .add(exchange(vhost, t.notifications(), "topic", new JsonObject()));
    JsonArray queues =
        new JsonArray()
            .add(queue(vhost, t.parkedQueue(), qargs))
            .add(queue(vhost, t.unroutable(), qargs));
    JsonArray bindings =
        new JsonArray()
            .add(binding(vhost, t.parkingExchange(), t.parkedQueue()))
            .add(binding(vhost, t.unroutable(), t.unroutable()));
    return new JsonObject()
        .put("exchanges", exchanges)
        .put("queues", queues)
        .put("bindings", bindings);
  }

  private static JsonObject exchange(String vhost, String name, String type, JsonObject args) {
    return new JsonObject()
        .put("name", name)
        .put("vhost", vhost)
        .put("type", type)
        .put("durable", true)
        .put("auto_delete", false)
        .put("internal", false)
        .put("arguments", args);
  }

  private static JsonObject queue(String vhost, String name, JsonObject args) {
    return new JsonObject()
        .put("name", name)
        .put("vhost", vhost)
        .put("durable", true)
        .put("auto_delete", false)
        .put("arguments", args.copy());
  }

  private static JsonObject binding(String vhost, String exchange, String queue) {
    return new JsonObject()
        .put("source", exchange)
        .put("vhost", vhost)
        .put("destination", queue)
        .put("destination_type", "queue")
        .put("routing_key", "")
        .put("arguments", new JsonObject());
  }

  /**
   * The {@code rabbitmqctl} invocations (arguments after the program) that set up the vhost, users
   * and permissions. Passwords are not among them: {@code add_user} and {@code change_password}
   * read them from standard input (see {@link Step#stdin()}).
   */
  public static List<Step> rabbitmqctlSteps(
      String vhost, List<User> users, List<String> existingUsers) {
    List<Step> steps = new ArrayList<>();
    steps.add(new Step(List.of("add_vhost", vhost), null, true));
    for (User u : users) {
      if (existingUsers.contains(u.name())) {
        steps.add(new Step(List.of("change_password", u.name()), u.password(), false));
      } else {
        steps.add(new Step(List.of("add_user", u.name()), u.password(), false));
      }
      steps.add(new Step(List.of("set_user_tags", u.name()), null, false));
      Permissions p = u.permissions();
      steps.add(
          new Step(
              List.of("set_permissions", "-p", vhost, u.name(), p.configure(), p.write(), p.read()),
              null,
              false));
      steps.add(new Step(List.of("clear_topic_permissions", "-p", vhost, u.name()), null, true));
      for (TopicPermission tp : u.topics()) {
        steps.add(
            new Step(
                List.of(
                    "set_topic_permissions",
                    "-p",
                    vhost,
                    u.name(),
                    tp.exchange(),
                    tp.write(),
                    tp.read()),
                null,
                false));
      }
    }
    return steps;
  }

  /**
   * One {@code rabbitmqctl} call.
   *
   * @param stdin what to write to its standard input (a password), or null
   * @param mayFail whether a failure is expected when the thing already exists or is absent
   */
  public record Step(List<String> args, String stdin, boolean mayFail) {}

  /** RabbitMQ's {@code rabbit_password_hashing_sha256}: base64(salt + sha256(salt + password)). */
  public static String passwordHash(String password) {
    byte[] salt = new byte[4];
    new SecureRandom().nextBytes(salt);
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(salt);
      md.update(password.getBytes(StandardCharsets.UTF_8));
      byte[] hash = md.digest();
      byte[] out = new byte[salt.length + hash.length];
      System.arraycopy(salt, 0, out, 0, salt.length);
      System.arraycopy(hash, 0, out, salt.length, hash.length);
      return Base64.getEncoder().encodeToString(out);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
