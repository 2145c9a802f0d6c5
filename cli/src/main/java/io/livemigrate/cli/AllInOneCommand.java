package io.livemigrate.cli;

import io.livemigrate.cli.Lifecycle.PortUse;
import io.livemigrate.common.config.ApiOptions;
import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.OpsOptions;
import io.livemigrate.common.config.SimulatedOptions;
import io.livemigrate.common.ops.Registries;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs every service in this process over an embedded broker and store, until Ctrl-C. */
@Command(
    name = "all-in-one",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description =
        "Run broker, store, scheduler, conductor + API and three simulated compute hosts in one"
            + " process.",
    footer = {
      "",
      "The admin token is kept in DIR/admin-token (created once, mode 0600) unless"
          + " LIVEMIGRATE_ADMIN_TOKEN is set.",
      "Exit status: 0 stopped by Ctrl-C/SIGTERM, 75 a port in use, 78 invalid configuration."
    })
final class AllInOneCommand implements Callable<Integer> {
  /** Where the demo's metrics ports start when no configuration file is given. */
  static final int DEMO_OPS_PORT = 9180;

  @Option(names = "--config", paramLabel = "FILE", description = "nova.conf-style file")
  Path configFile;

  @Option(
      names = "--api-port",
      paramLabel = "PORT",
      description = "API port (default ${DEFAULT-VALUE})",
      defaultValue = "8774")
  int apiPort;

  @Option(
      names = "--data",
      paramLabel = "DIR",
      description = "Directory of the H2 store and the admin token (default ${DEFAULT-VALUE})",
      defaultValue = "./data")
  Path data;

  @Option(
      names = "--rabbitmq",
      paramLabel = "URL",
      description = "Use this RabbitMQ URL instead of the embedded broker")
  String rabbitUrl;

  @Override
  public Integer call() {
    long t0 = System.nanoTime();
    List<PortUse> ports = new ArrayList<>();
    Vertx vertx = null;
    AllInOne a;
    Config c;
    AdminToken token;
    try {
      Map<String, String> o = new HashMap<>();
      o.put(ApiOptions.API_PORT.key(), Integer.toString(apiPort));
      o.put(
          ConductorOptions.STORE_URL.key(),
          "jdbc:h2:file:" + data.toAbsolutePath().resolve("livemigrate"));
      if (configFile == null) {
        // Demo defaults: a link slow enough to watch progress, fixed metrics ports.
        o.put(SimulatedOptions.SIM_LINK_MIBPS.key(), "512");
        o.put(OpsOptions.OPS_PORT.key(), Integer.toString(DEMO_OPS_PORT));
      }
      o.put(DefaultOptions.HOST.key(), "HostA");
      if (rabbitUrl != null) o.put(DefaultOptions.TRANSPORT_URL.key(), rabbitUrl);
      c = Main.config(configFile, o);
      List<AllInOne.HostSpec> hosts = AllInOne.demoHosts();
      ports.addAll(ports(c, hosts));
      Lifecycle.checkPorts("all-in-one", ports);
      token = AdminToken.resolve(System.getenv("LIVEMIGRATE_ADMIN_TOKEN"), data);
      PrometheusMeterRegistry vertxMetrics = Registries.forVertx("conductor");
      vertx = Registries.vertx(vertxMetrics);
      a =
          AllInOne.start(vertx, c, rabbitUrl == null, token.value(), hosts, vertxMetrics)
              .await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      return Main.failed("all-in-one", e, ports, vertx);
    }
    String api = "http://127.0.0.1:" + a.conductor().apiPort() + "/v2.1";
    System.out.printf(
        "%nlivemigrate all-in-one ready in %d ms%n"
            + "  API:       %s%n"
            + "  token:     %s%n"
            + "  broker:    %s%n"
            + "  store:     %s%n"
            + "  metrics:   http://127.0.0.1:%d/metrics (conductor), :%d (scheduler),"
            + " :%d-%d (compute HostA-HostC)%n"
            + "  hosts:     HostA (web1), HostB (vm1, vm2), HostC (db1)%n%n"
            + "Try:%n"
            + "  export OS_ENDPOINT=%s OS_TOKEN=%s%n"
            + "  %s server list%n"
            + "  %s server migrate vm1 --live HostC --wait%n"
            + "  %s migration list --long%n"
            + "  openstack --os-compute-api-version 2.30 server migrate --live-migration"
            + " --host HostA vm2 --wait%n%n"
            + "Ctrl-C stops it.%n",
        (System.nanoTime() - t0) / 1_000_000,
        api,
        token.where(),
        a.brokerDescription(),
        c.string(ConductorOptions.STORE_URL),
        a.conductor().opsPort(),
        a.scheduler().opsPort(),
        a.agent("HostA").opsPort(),
        a.agent("HostC").opsPort(),
        api,
        token.shellValue(),
        Main.prog(),
        Main.prog(),
        Main.prog());
    Vertx running = vertx;
    Lifecycle.awaitStopSignal(
        "all-in-one",
        System.err,
        () -> {
          try {
            a.stop().await(20, TimeUnit.SECONDS);
          } catch (Exception e) {
            System.err.println("livemigrate all-in-one: stopping: " + e.getMessage());
          }
          Main.close(running);
        });
    return 0;
  }

  /**
   * The ports the all-in-one listens on: the API and the metrics port of the conductor, the
   * scheduler and each agent, as {@link AllInOne} numbers them from {@code [ops] port}.
   */
  static List<PortUse> ports(Config c, List<AllInOne.HostSpec> hosts) {
    String apiAddr = c.string(ApiOptions.API_LISTEN);
    String opsAddr = c.string(OpsOptions.OPS_LISTEN);
    List<PortUse> l = new ArrayList<>();
    l.add(new PortUse("API (--api-port)", apiAddr, c.integer(ApiOptions.API_PORT)));
    int base = c.integer(OpsOptions.OPS_PORT);
    if (base == 0) return l;
    l.add(new PortUse("conductor metrics ([ops] port)", opsAddr, base));
    l.add(new PortUse("scheduler metrics ([ops] port + 1)", opsAddr, base + 1));
    for (int i = 0; i < hosts.size(); i++) {
      l.add(
          new PortUse(
              hosts.get(i).name() + " agent metrics ([ops] port + " + (2 + i) + ")",
              opsAddr,
              base + 2 + i));
    }
    return l;
  }
}
