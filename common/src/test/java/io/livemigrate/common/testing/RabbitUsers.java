package io.livemigrate.common.testing;

import io.livemigrate.common.broker.EmbeddedBroker;
import io.livemigrate.common.broker.RabbitSetup;
import io.livemigrate.common.bus.Identities;
import io.livemigrate.common.bus.Topology;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A vhost on a private RabbitMQ node with this deployment's users, permissions, topic permissions
 * and shared topology, set up exactly as {@code livemigrate setup rabbitmq} does it (the same
 * {@link RabbitSetup} steps through {@code rabbitmqctl}).
 */
public final class RabbitUsers {
  private final PrivateRabbit node;
  private final String vhost;
  private final Map<String, String> passwords;

  private RabbitUsers(PrivateRabbit node, String vhost, Map<String, String> passwords) {
    this.node = node;
    this.vhost = vhost;
    this.passwords = passwords;
  }

  public static RabbitUsers create(
      PrivateRabbit node, String vhost, Topology t, Identities ids, List<String> hosts)
      throws Exception {
    Map<String, String> pw = new LinkedHashMap<>();
    pw.put(ids.conductor(), EmbeddedBroker.newPassword());
    pw.put(ids.scheduler(), EmbeddedBroker.newPassword());
    for (String h : hosts) pw.put(ids.compute(h), EmbeddedBroker.newPassword());
    List<RabbitSetup.User> users = RabbitSetup.users(t, ids, hosts, pw);
    List<String> existing =
        node.ctlOk("list_users", "--no-table-headers").lines().map(l -> l.split("\t")[0]).toList();
    for (RabbitSetup.Step s : RabbitSetup.rabbitmqctlSteps(vhost, users, existing)) {
      PrivateRabbit.Result r =
          node.ctlWithInput(Duration.ofSeconds(60), s.stdin(), s.args().toArray(new String[0]));
      if (r.code() != 0 && !s.mayFail()) {
        throw new AssertionError("rabbitmqctl " + s.args() + ": " + r.output());
      }
    }
    Path defs = Files.createTempFile("lm-topology", ".json");
    Files.writeString(defs, RabbitSetup.topology(vhost, t, "quorum").encodePrettily());
    node.ctlOk("import_definitions", defs.toString());
    Files.delete(defs);
    return new RabbitUsers(node, vhost, pw);
  }

  public String url(String user) {
    String p = passwords.get(user);
    if (p == null) throw new IllegalArgumentException("no user " + user);
    return node.url(user, p, vhost);
  }

  public String password(String user) {
    return passwords.get(user);
  }

  public String vhost() {
    return vhost;
  }
}
