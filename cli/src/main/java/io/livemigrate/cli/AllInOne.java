package io.livemigrate.cli;

import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.app.ComputeAgentVerticle;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.agent.sim.SimFabric;
import io.livemigrate.agent.sim.SimulatedHypervisor;
import io.livemigrate.agent.sim.SimulatedState;
import io.livemigrate.common.broker.EmbeddedBroker;
import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.bus.Identities;
import io.livemigrate.common.config.BusOptions;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.OpsOptions;
import io.livemigrate.common.config.SimulatedOptions;
import io.livemigrate.conductor.app.ConductorVerticle;
import io.livemigrate.scheduler.app.SchedulerVerticle;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Every service in one JVM: conductor (with the API), scheduler and simulated compute hosts, over a
 * broker (the embedded one unless a URL is given) and a store. The single-machine default and the
 * fixture of the component tests: the same code paths as a distributed deployment, only the
 * endpoints differ.
 */
public final class AllInOne {
  /** One simulated compute host and its guests. */
  public record HostSpec(String name, HostResources capacity, List<SimDomain> domains) {}

  private final Vertx vertx;
  private final Config base;
  private final String adminToken;
  private final EmbeddedBroker broker;
  private final ScheduledExecutorService simClock;

  /** The simulated hosts of this process hand completed transfers' guests over through it. */
  private final SimFabric fabric = SimFabric.inMemory();

  private final Map<String, SimulatedHypervisor> hypervisors = new LinkedHashMap<>();
  private final Map<String, String> agentDeployments = new HashMap<>();
  private final Map<String, ComputeAgentVerticle> agents = new HashMap<>();
  private PrometheusMeterRegistry vertxRegistry;
  private Path ownStateDir;
  private String conductorDeployment;
  private String schedulerDeployment;
  private ConductorVerticle conductor;
  private SchedulerVerticle scheduler;

  private AllInOne(Vertx vertx, Config base, String adminToken, EmbeddedBroker broker) {
    this.vertx = vertx;
    this.base = base;
    this.adminToken = adminToken;
    this.broker = broker;
    this.simClock =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "sim-clock");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Starts everything.
   *
   * @param config base configuration; its transport_url is replaced by the embedded broker's when
   *     {@code embeddedBroker} is true
   */
  public static Future<AllInOne> start(
      Vertx vertx, Config config, boolean embeddedBroker, String adminToken, List<HostSpec> hosts) {
    return start(vertx, config, embeddedBroker, adminToken, hosts, null);
  }

  /**
   * Starts everything, exporting Vert.x's own metrics from the conductor's {@code /metrics}.
   *
   * <p>Why the conductor: Vert.x binds metrics once per Vertx, and here every service shares one,
   * so the {@code vertx_*} series describe the whole process; they go out once, with the
   * controller's series, instead of being repeated (and summed twice) by every service.
   *
   * @param vertxRegistry the registry {@code vertx} was created with ({@code
   *     Registries.vertx(...)}), or null when Vert.x metrics are off
   */
  public static Future<AllInOne> start(
      Vertx vertx,
      Config config,
      boolean embeddedBroker,
      String adminToken,
      List<HostSpec> hosts,
      PrometheusMeterRegistry vertxRegistry) {
    return vertx
        .executeBlocking(() -> embeddedBroker ? startBroker(config, hosts) : null)
        .compose(
            broker -> {
              Config c =
                  broker == null
                      ? config
                      : config.with(Map.of(DefaultOptions.TRANSPORT_URL.key(), broker.url()));
              AllInOne a = new AllInOne(vertx, c, adminToken, broker);
              a.vertxRegistry = vertxRegistry;
              // What livemigrate setup rabbitmq does on RabbitMQ: the shared exchanges exist
              // before the services that may not declare them start.
              Future<Void> topology =
                  broker == null
                      ? Future.succeededFuture()
                      : Bus.declareTopology(
                          vertx, BusSettings.from(c.with(a.login(a.identities().conductor()))));
              return topology.compose(v -> a.startServices(hosts)).map(v -> a);
            });
  }

  /**
   * The embedded broker with one user per service and per host, as a RabbitMQ deployment has
   * ({@code livemigrate setup rabbitmq}): the identity checks run here exactly as there.
   */
  private static EmbeddedBroker startBroker(Config config, List<HostSpec> hosts) throws Exception {
    Identities ids = Identities.of(config.string(BusOptions.IDENTITY_PREFIX), true);
    Map<String, String> users = new LinkedHashMap<>();
    users.put(ids.conductor(), EmbeddedBroker.newPassword());
    users.put(ids.scheduler(), EmbeddedBroker.newPassword());
    for (HostSpec h : hosts) users.put(ids.compute(h.name()), EmbeddedBroker.newPassword());
    return EmbeddedBroker.start(EmbeddedBroker.Settings.plain(0).withUsers(users));
  }

  /** A service's own login on the embedded broker, when it has one. */
  private Map<String, String> login(String identity) {
    if (broker == null || !broker.users().contains(identity)) return Map.of();
    return Map.of(DefaultOptions.TRANSPORT_URL.key(), broker.url(identity));
  }

  private Identities identities() {
    return Identities.of(base.string(BusOptions.IDENTITY_PREFIX), true);
  }

  private Future<Void> startServices(List<HostSpec> hosts) {
    long linkBps = base.longValue(SimulatedOptions.SIM_LINK_MIBPS) * SimDomain.MIB;
    long tick = base.longValue(SimulatedOptions.SIM_TICK_MS);
    for (HostSpec h : hosts) {
      SimulatedHypervisor hv =
          new SimulatedHypervisor(h.name(), h.capacity(), linkBps, tick, simClock).linkTo(fabric);
      h.domains().forEach(hv::define);
      String state = stateDir();
      // A restart on the same data directory finds the guests where they migrated to, as a real
      // host keeps its domains while the services restart.
      if (!state.isBlank())
        SimulatedState.keep(hv, Path.of(state, h.name(), "simulated.json"), simClock);
      hypervisors.put(h.name(), hv);
    }
    return startScheduler()
        .compose(v -> startConductor())
        .compose(
            v -> {
              Future<Void> f = Future.succeededFuture();
              for (String host : hypervisors.keySet()) f = f.compose(x -> startAgent(host));
              return f;
            });
  }

  private Config serviceConfig(String host, int opsPort) {
    Map<String, String> o = new HashMap<>();
    o.put(DefaultOptions.HOST.key(), host);
    o.put(OpsOptions.OPS_PORT.key(), Integer.toString(opsPort));
    String state = stateDir();
    // One process, several agents: each journals under its own host's directory.
    if (!state.isBlank()) o.put(ComputeOptions.STATE_DIR.key(), Path.of(state, host).toString());
    return base.with(o);
  }

  /**
   * The agents' journal: as configured, except that the packaged default (a system directory shared
   * by every process on the machine) becomes a directory of this cloud's own, beside its H2 store
   * when it has one, so two all-in-ones never read each other's journals.
   */
  private String stateDir() {
    String state = base.string(ComputeOptions.STATE_DIR);
    if (!state.equals(ComputeOptions.STATE_DIR.defaultValue())) return state;
    if (ownStateDir == null) {
      String url = base.string(ConductorOptions.STORE_URL);
      try {
        ownStateDir =
            url.startsWith("jdbc:h2:file:")
                ? Path.of(url.substring("jdbc:h2:file:".length()).split(";")[0])
                    .toAbsolutePath()
                    .resolveSibling("compute")
                : Files.createTempDirectory("livemigrate-compute");
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    return ownStateDir.toString();
  }

  private int opsPort(int offset) {
    int p = base.integer(OpsOptions.OPS_PORT);
    return p == 0 ? 0 : p + offset;
  }

  private Future<Void> startScheduler() {
    scheduler =
        new SchedulerVerticle(
            serviceConfig(controllerHost(), opsPort(1)).with(login(identities().scheduler())));
    return vertx.deployVerticle(scheduler).onSuccess(id -> schedulerDeployment = id).mapEmpty();
  }

  /** Undeploys the scheduler and deploys a new one: it starts with no claims at all. */
  public Future<Void> restartScheduler() {
    return vertx.undeploy(schedulerDeployment).compose(v -> startScheduler());
  }

  /** Deploys a conductor on the same store (used again to restart it). */
  public Future<Void> startConductor() {
    return startConductor(Map.of());
  }

  /**
   * Deploys a conductor on the same store with some options changed (a restart with another policy,
   * as an operator would edit nova.conf and restart).
   */
  public Future<Void> startConductor(Map<String, String> overrides) {
    conductor =
        new ConductorVerticle(
                serviceConfig(controllerHost(), opsPort(0))
                    .with(login(identities().conductor()))
                    .with(overrides),
                adminToken)
            .exportVertxMetrics(vertxRegistry);
    return vertx.deployVerticle(conductor).onSuccess(id -> conductorDeployment = id).mapEmpty();
  }

  /** Undeploys the conductor; migrations stay in the store. */
  public Future<Void> stopConductor() {
    return vertx.undeploy(conductorDeployment);
  }

  public Future<Void> startAgent(String host) {
    int index = new ArrayList<>(hypervisors.keySet()).indexOf(host);
    ComputeAgentVerticle v =
        new ComputeAgentVerticle(
            serviceConfig(host, opsPort(2 + index)).with(login(identities().compute(host))),
            hypervisors.get(host));
    return vertx
        .deployVerticle(v)
        .onSuccess(
            id -> {
              agentDeployments.put(host, id);
              agents.put(host, v);
            })
        .mapEmpty();
  }

  public Future<Void> stopAgent(String host) {
    agents.remove(host);
    return vertx.undeploy(agentDeployments.remove(host));
  }

  private String controllerHost() {
    String h = base.string(DefaultOptions.HOST);
    return h == null || h.isBlank() ? "controller" : h;
  }

  public SimulatedHypervisor hypervisor(String host) {
    return hypervisors.get(host);
  }

  public ConductorVerticle conductor() {
    return conductor;
  }

  public SchedulerVerticle scheduler() {
    return scheduler;
  }

  public ComputeAgentVerticle agent(String host) {
    return agents.get(host);
  }

  public Config config() {
    return base;
  }

  public String adminToken() {
    return adminToken;
  }

  public String brokerDescription() {
    return broker == null
        ? base.string(DefaultOptions.TRANSPORT_URL).replaceAll("//[^@]*@", "//")
        : "embedded Qpid Broker-J on 127.0.0.1:" + broker.port();
  }

  public Future<Void> stop() {
    Future<Void> f = Future.succeededFuture();
    for (String host : List.copyOf(agentDeployments.keySet())) f = f.compose(v -> stopAgent(host));
    return f.compose(
            v ->
                conductorDeployment == null
                    ? Future.succeededFuture()
                    : vertx.undeploy(conductorDeployment))
        .recover(e -> Future.succeededFuture())
        .compose(
            v ->
                schedulerDeployment == null
                    ? Future.succeededFuture()
                    : vertx.undeploy(schedulerDeployment))
        .recover(e -> Future.succeededFuture())
        .compose(
            v ->
                vertx.executeBlocking(
                    () -> {
                      simClock.shutdownNow();
                      if (broker != null) broker.close();
                      return null;
                    }));
  }

  /** The admin guide's cloud: HostA, HostB (vm1, vm2) and HostC, with a few more guests. */
  public static List<HostSpec> demoHosts() {
    HostResources cap = new HostResources(16, 32232, 878);
    long mib = SimDomain.MIB;
    return List.of(
        new HostSpec(
            "HostA",
            cap,
            List.of(
                new SimDomain(
                    "6e1c0a3e-5b8f-4c61-9d9e-0a1b2c3d4e5f",
                    "web1",
                    2,
                    4096,
                    40,
                    "p1",
                    "u1",
                    "m1.medium",
                    50 * mib,
                    0,
                    false))),
        new HostSpec(
            "HostB",
            cap,
            List.of(
                new SimDomain(
                    "d1df1b5a-70c4-4fed-98b7-423362f2c47c",
                    "vm1",
                    1,
                    2048,
                    20,
                    "p1",
                    "u1",
                    "m1.small",
                    20 * mib,
                    0,
                    false),
                new SimDomain(
                    "d693db9e-a7cf-45ef-a7c9-b3ecb5f22645",
                    "vm2",
                    1,
                    2048,
                    20,
                    "p2",
                    "u2",
                    "m1.small",
                    40 * mib,
                    0,
                    false))),
        new HostSpec(
            "HostC",
            cap,
            List.of(
                new SimDomain(
                    "3f2d4c5b-6a79-4e8d-9c0b-1a2b3c4d5e6f",
                    "db1",
                    4,
                    8192,
                    80,
                    "p2",
                    "u2",
                    "m1.large",
                    100 * mib,
                    0,
                    false))));
  }
}
