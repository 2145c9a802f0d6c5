package io.livemigrate.cli.faults;

import io.livemigrate.cli.Http;
import io.livemigrate.common.config.ApiOptions;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.OpsOptions;
import io.livemigrate.common.config.SimulatedOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * A livemigrate deployment of separate processes on real RabbitMQ and PostgreSQL: conductors (each
 * with its API), a scheduler, and compute agents whose simulated hypervisors host the guests their
 * configuration defines. Every process is a {@link ServiceProcess} the scenarios kill, stop and
 * start again; the fleet knows how to reach each one.
 */
final class Fleet implements Cloud, AutoCloseable {
  static final String TOKEN = "fault-harness-admin";
  private static final Pattern API = Pattern.compile("conductor: API on port (\\d+)");
  private static final Pattern CONDUCTOR_OPS = Pattern.compile("conductor: .*metrics on (\\d+)");
  private static final Pattern AGENT_OPS =
      Pattern.compile("compute-agent \\S+: .*metrics on (\\d+)");
  private static final Pattern SCHEDULER_OPS = Pattern.compile("scheduler: .*metrics on (\\d+)");

  /** A running service and where it answers. */
  static final class Member {
    final ServiceProcess process;
    int apiPort;
    int opsPort;

    Member(ServiceProcess process) {
      this.process = process;
    }
  }

  private final String brokerUrl;
  final String namespace = "lmfault" + UUID.randomUUID().toString().substring(0, 8);
  final Path dir;
  private final Map<String, String> common = new HashMap<>();
  final List<Member> conductors = new ArrayList<>();
  Member scheduler;
  final Map<String, Member> agents = new LinkedHashMap<>();
  private final Map<String, Map<String, String>> agentEnv = new HashMap<>();

  Fleet(Path dir, String brokerUrl, String storeUrl, String storeUser, Map<String, String> extra)
      throws Exception {
    this.dir = dir;
    this.brokerUrl = brokerUrl;
    Files.createDirectories(dir);
    common.put(DefaultOptions.TRANSPORT_URL.envName(), brokerUrl);
    common.put(DefaultOptions.BUS_NAMESPACE.envName(), namespace);
    common.put(DefaultOptions.REPORT_INTERVAL.envName(), "1");
    common.put(DefaultOptions.SERVICE_DOWN_TIME.envName(), "6");
    common.put(ComputeOptions.PROGRESS_INTERVAL_MS.envName(), "500");
    common.put(OpsOptions.OPS_PORT.envName(), "0");
    common.put(ApiOptions.API_PORT.envName(), "0");
    common.put(ConductorOptions.STORE_URL.envName(), storeUrl);
    common.put(ConductorOptions.STORE_USER.envName(), storeUser);
    common.put("LIVEMIGRATE_ADMIN_TOKEN", TOKEN);
    common.putAll(extra);
  }

  /** Starts one more conductor (with its API) and waits until it answers. */
  Member addConductor() throws Exception {
    int n = conductors.size() + 1;
    Map<String, String> env = new HashMap<>(common);
    env.put(DefaultOptions.HOST.envName(), "controller-" + n);
    ServiceProcess p =
        new ServiceProcess(
            "conductor-" + n,
            List.of("serve", "conductor"),
            env,
            dir.resolve("conductor-" + n + ".log"));
    Member m = new Member(p);
    conductors.add(m);
    startConductor(m);
    return m;
  }

  void startConductor(Member m) throws Exception {
    m.process.start();
    m.apiPort = Integer.parseInt(m.process.await(API, Duration.ofSeconds(60)));
    m.opsPort = Integer.parseInt(m.process.await(CONDUCTOR_OPS, Duration.ofSeconds(5)));
  }

  Member addScheduler() throws Exception {
    Map<String, String> env = new HashMap<>(common);
    env.put(DefaultOptions.HOST.envName(), "controller-1");
    scheduler =
        new Member(
            new ServiceProcess(
                "scheduler", List.of("serve", "scheduler"), env, dir.resolve("scheduler.log")));
    startScheduler();
    return scheduler;
  }

  void startScheduler() throws Exception {
    scheduler.process.start();
    scheduler.opsPort =
        Integer.parseInt(scheduler.process.await(SCHEDULER_OPS, Duration.ofSeconds(60)));
  }

  /**
   * Starts a compute agent with a simulated hypervisor.
   *
   * @param guests the {@code [simulated] guests} value (empty = none)
   * @param journal whether it keeps a journal in a directory of its own
   */
  Member addAgent(String host, String guests, boolean journal, Map<String, String> extra)
      throws Exception {
    Map<String, String> env = new HashMap<>(common);
    env.put(DefaultOptions.HOST.envName(), host);
    env.put("LIVEMIGRATE_SIMULATED__GUESTS", guests);
    env.put(
        ComputeOptions.STATE_DIR.envName(),
        journal ? Files.createDirectories(dir.resolve("state-" + host)).toString() : "");
    // The simulated host keeps its domains while the agent restarts, as libvirtd would.
    env.put(
        SimulatedOptions.SIM_STATE_FILE.envName(), dir.resolve("sim-" + host + ".json").toString());
    // The lab's hosts hand completed transfers' guests to each other through one directory.
    env.put(SimulatedOptions.SIM_FABRIC_DIR.envName(), dir.resolve("fabric").toString());
    env.putAll(extra);
    agentEnv.put(host, env);
    agents.put(host, agentMember(host, env));
    startAgent(host);
    return agents.get(host);
  }

  private Member agentMember(String host, Map<String, String> env) {
    return new Member(
        new ServiceProcess(
            "agent-" + host,
            List.of("serve", "compute-agent"),
            env,
            dir.resolve("agent-" + host + ".log")));
  }

  /** Whether the agent runs without a journal. */
  boolean agentJournalOff(String host) {
    return agentEnv.get(host).getOrDefault(ComputeOptions.STATE_DIR.envName(), "").isEmpty();
  }

  /**
   * Stops the agent (SIGTERM) if it runs and starts it again with its journal on or off, so that a
   * fault scenario finds it as the scenario needs it.
   */
  void restartAgent(String host, boolean journal) throws Exception {
    Member old = agents.get(host);
    if (old.process.alive()) old.process.terminate(Duration.ofSeconds(30));
    Map<String, String> env = new HashMap<>(agentEnv.get(host));
    env.put(
        ComputeOptions.STATE_DIR.envName(),
        journal ? Files.createDirectories(dir.resolve("state-" + host)).toString() : "");
    agentEnv.put(host, env);
    agents.put(host, agentMember(host, env));
    startAgent(host);
  }

  void startAgent(String host) throws Exception {
    Member m = agents.get(host);
    m.process.start();
    m.opsPort = Integer.parseInt(m.process.await(AGENT_OPS, Duration.ofSeconds(60)));
  }

  Http api(int conductor) {
    return new Http("http://127.0.0.1:" + conductors.get(conductor).apiPort + "/v2.1", TOKEN);
  }

  /** Any conductor whose process runs. */
  Http anyApi() {
    for (int i = 0; i < conductors.size(); i++) {
      if (conductors.get(i).process.alive()) return api(i);
    }
    throw new IllegalStateException("no conductor runs");
  }

  /** Where each simulated hypervisor says the instance is (host to state), from the agents. */
  @Override
  public Map<String, String> runsOn(String instanceUuid) {
    Map<String, String> out = new TreeMap<>();
    for (Map.Entry<String, Member> e : agents.entrySet()) {
      if (!e.getValue().process.alive()) continue;
      JsonObject h = health(e.getValue());
      JsonObject domains = h.getJsonObject("domains", new JsonObject());
      String state = domains.getString(instanceUuid);
      if (state != null) out.put(e.getKey(), state);
    }
    return out;
  }

  static JsonObject health(Member m) {
    try {
      return new JsonObject(Http.raw("http://127.0.0.1:" + m.opsPort + "/health"));
    } catch (RuntimeException e) {
      return new JsonObject().put("status", "UNREACHABLE").put("error", e.toString());
    }
  }

  @Override
  public JsonObject latest(String instanceUuid) {
    JsonArray l =
        anyApi()
            .get("/os-migrations?instance_uuid=" + instanceUuid, "2.59")
            .json()
            .getJsonArray("migrations");
    return l.isEmpty() ? null : l.getJsonObject(0);
  }

  @Override
  public Path logDir() {
    return dir;
  }

  @Override
  public JsonObject server(String instanceUuid) {
    return anyApi().get("/servers/" + instanceUuid).json().getJsonObject("server");
  }

  Http.Response migrate(Http api, String instanceUuid, String host) {
    String h = host == null ? "null" : "\"" + host + "\"";
    return api.post(
        "/servers/" + instanceUuid + "/action",
        "{\"os-migrateLive\": {\"host\": " + h + ", \"block_migration\": false}}",
        "2.30");
  }

  /** Every process's log tail, for a failed scenario's report. */
  String tails() {
    StringBuilder b = new StringBuilder();
    for (Member m : conductors) b.append(m.process.tail(30)).append('\n');
    if (scheduler != null) b.append(scheduler.process.tail(20)).append('\n');
    for (Member m : agents.values()) b.append(m.process.tail(20)).append('\n');
    return b.toString();
  }

  @Override
  public void close() throws Exception {
    List<Member> all = new ArrayList<>(conductors);
    if (scheduler != null) all.add(scheduler);
    all.addAll(agents.values());
    for (Member m : all) m.process.terminate(Duration.ofSeconds(10));
    deleteTopology();
  }

  /**
   * Deletes this run's queues and exchanges on the shared broker: hundreds of runs leave thousands
   * of quorum queues otherwise, and the broker (and every later test on it) slows down.
   */
  private void deleteTopology() {
    io.livemigrate.common.bus.Topology t = new io.livemigrate.common.bus.Topology(namespace);
    com.rabbitmq.client.ConnectionFactory cf = new com.rabbitmq.client.ConnectionFactory();
    try {
      cf.setUri(brokerUrl);
      try (com.rabbitmq.client.Connection c = cf.newConnection("fault-harness-cleanup")) {
        List<String> queues =
            new ArrayList<>(
                List.of(t.conductorQueue(), t.schedulerQueue(), t.parkedQueue(), t.unroutable()));
        for (String h : List.of("HostA", "HostB", "HostC", "HostD")) queues.add(t.computeQueue(h));
        for (String q : queues) {
          try (com.rabbitmq.client.Channel ch = c.createChannel()) {
            ch.queueDelete(q);
          } catch (IOException e) {
            // not declared in this scenario
          }
        }
        for (String x :
            List.of(
                t.commands(), t.events(), t.notifications(), t.parkingExchange(), t.unroutable())) {
          try (com.rabbitmq.client.Channel ch = c.createChannel()) {
            ch.exchangeDelete(x);
          } catch (IOException e) {
            // not declared in this scenario
          }
        }
      }
    } catch (Exception e) {
      System.out.println("[faults] topology of " + namespace + " not deleted: " + e);
    }
  }
}
