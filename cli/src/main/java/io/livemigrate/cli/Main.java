package io.livemigrate.cli;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.app.ComputeAgentVerticle;
import io.livemigrate.agent.libvirt.LibvirtHypervisor;
import io.livemigrate.agent.sim.SimulatedHypervisor;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.Options;
import io.livemigrate.common.ops.Registries;
import io.livemigrate.conductor.app.ConductorVerticle;
import io.livemigrate.scheduler.app.SchedulerVerticle;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The one executable: the all-in-one, each service alone, and client commands. */
@Command(
    name = "livemigrate",
    mixinStandardHelpOptions = true,
    version = "livemigrate 0.1.0",
    description = "Live migration of running VMs between compute hosts.",
    subcommands = {
      Main.AllInOneCommand.class,
      Main.ServeCommand.class,
      ClientCommands.ServerCommand.class,
      ClientCommands.ComputeCommand.class,
      ClientCommands.HostCommand.class,
      ClientCommands.HypervisorCommand.class,
      ClientCommands.MigrationCommand.class,
      PolicyReplay.class
    })
public final class Main implements Callable<Integer> {

  public static void main(String[] args) {
    System.exit(new CommandLine(new Main()).execute(args));
  }

  @Override
  public Integer call() {
    new CommandLine(this).usage(System.out);
    return 0;
  }

  static Config config(Path file, Map<String, String> overrides) {
    return Config.load(file, System.getenv(), overrides);
  }

  static void awaitShutdown(Vertx vertx, Runnable onStop) throws InterruptedException {
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  onStop.run();
                  done.countDown();
                }));
    done.await();
  }

  /** Runs every service in this process over an embedded broker and store. */
  @Command(
      name = "all-in-one",
      description =
          "Run broker, store, scheduler, conductor + API and three simulated compute hosts in one process.")
  static final class AllInOneCommand implements Callable<Integer> {
    @Option(names = "--config", description = "nova.conf-style file")
    Path configFile;

    @Option(
        names = "--api-port",
        description = "API port (default ${DEFAULT-VALUE})",
        defaultValue = "8774")
    int apiPort;

    @Option(
        names = "--data",
        description = "Directory of the H2 store (default ${DEFAULT-VALUE})",
        defaultValue = "./data")
    Path data;

    @Option(
        names = "--rabbitmq",
        description = "Use this RabbitMQ URL instead of the embedded broker")
    String rabbitUrl;

    @Override
    public Integer call() throws Exception {
      long t0 = System.nanoTime();
      String token = System.getenv("LIVEMIGRATE_ADMIN_TOKEN");
      boolean generated = token == null || token.isBlank();
      if (generated) {
        byte[] b = new byte[16];
        new SecureRandom().nextBytes(b);
        token = HexFormat.of().formatHex(b);
      }
      Map<String, String> o = new HashMap<>();
      o.put(Options.API_PORT.key(), Integer.toString(apiPort));
      o.put(
          Options.STORE_URL.key(), "jdbc:h2:file:" + data.toAbsolutePath().resolve("livemigrate"));
      if (configFile == null) {
        // Demo defaults: a link slow enough to watch progress, fixed metrics ports.
        o.put(Options.SIM_LINK_MIBPS.key(), "512");
        o.put(Options.OPS_PORT.key(), "9180");
      }
      o.put(Options.HOST.key(), "HostA");
      if (rabbitUrl != null) o.put(Options.TRANSPORT_URL.key(), rabbitUrl);
      Config c = config(configFile, o);
      PrometheusMeterRegistry vertxMetrics = Registries.forVertx("conductor");
      Vertx vertx = Registries.vertx(vertxMetrics);
      AllInOne a =
          AllInOne.start(vertx, c, rabbitUrl == null, token, AllInOne.demoHosts(), vertxMetrics)
              .await(60, TimeUnit.SECONDS);
      String api = "http://127.0.0.1:" + a.conductor().apiPort() + "/v2.1";
      System.out.printf(
          "%nlivemigrate all-in-one ready in %d ms%n"
              + "  API:       %s%n"
              + "  token:     %s%s%n"
              + "  broker:    %s%n"
              + "  store:     %s%n"
              + "  metrics:   http://127.0.0.1:%d/metrics (conductor), :%d (scheduler), :%d-%d (compute HostA-HostC)%n"
              + "  hosts:     HostA, HostB (vm1, vm2), HostC%n%n"
              + "Try:%n"
              + "  export OS_ENDPOINT=%s OS_TOKEN=%s%n"
              + "  curl -s -H \"X-Auth-Token: $OS_TOKEN\" $OS_ENDPOINT/servers/detail%n"
              + "  curl -s -H \"X-Auth-Token: $OS_TOKEN\" -H 'Content-Type: application/json' \\%n"
              + "       -d '{\"os-migrateLive\": {\"host\": \"HostC\", \"block_migration\": false}}' \\%n"
              + "       $OS_ENDPOINT/servers/d1df1b5a-70c4-4fed-98b7-423362f2c47c/action%n"
              + "  curl -s -H \"X-Auth-Token: $OS_TOKEN\" $OS_ENDPOINT/os-migrations%n"
              + "  openstack --os-endpoint $OS_ENDPOINT --os-token $OS_TOKEN --os-compute-api-version 2.30 \\%n"
              + "       server migrate --live-migration --host HostC vm1 --wait%n%n"
              + "Ctrl-C stops it.%n",
          (System.nanoTime() - t0) / 1_000_000,
          api,
          token,
          generated ? " (generated; set LIVEMIGRATE_ADMIN_TOKEN to choose one)" : "",
          a.brokerDescription(),
          c.string(Options.STORE_URL),
          a.conductor().opsPort(),
          a.scheduler().opsPort(),
          a.agent("HostA").opsPort(),
          a.agent("HostC").opsPort(),
          api,
          token);
      awaitShutdown(
          vertx,
          () -> {
            try {
              a.stop().await(20, TimeUnit.SECONDS);
              vertx.close().await(10, TimeUnit.SECONDS);
            } catch (Exception e) {
              System.err.println("shutdown: " + e);
            }
          });
      return 0;
    }
  }

  /** Runs one service against a RabbitMQ URL from the configuration. */
  @Command(name = "serve", description = "Run one service: conductor, scheduler or compute-agent.")
  static final class ServeCommand implements Callable<Integer> {
    @Parameters(index = "0", description = "conductor | scheduler | compute-agent")
    String service;

    @Option(names = "--config", description = "nova.conf-style file")
    Path configFile;

    @Override
    public Integer call() throws Exception {
      Config c = config(configFile, Map.of());
      // Alone in its JVM, each service exports the Vert.x metrics of its own Vertx.
      PrometheusMeterRegistry vertxMetrics =
          Registries.forVertx("compute-agent".equals(service) ? "compute" : service);
      Vertx vertx = Registries.vertx(vertxMetrics);
      switch (service) {
        case "conductor" -> {
          String token = System.getenv("LIVEMIGRATE_ADMIN_TOKEN");
          if ((token == null || token.isBlank()) && c.string(Options.API_TOKEN_FILE).isBlank()) {
            System.err.println(
                "LIVEMIGRATE_ADMIN_TOKEN or [api] token_file must be set for the conductor's API");
            return 2;
          }
          ConductorVerticle v = new ConductorVerticle(c, token).exportVertxMetrics(vertxMetrics);
          vertx.deployVerticle(v).await(60, TimeUnit.SECONDS);
          System.out.println(
              "conductor: API on port " + v.apiPort() + ", metrics on " + v.opsPort());
        }
        case "scheduler" -> {
          SchedulerVerticle v = new SchedulerVerticle(c).exportVertxMetrics(vertxMetrics);
          vertx.deployVerticle(v).await(60, TimeUnit.SECONDS);
          System.out.println("scheduler: metrics on " + v.opsPort());
        }
        case "compute-agent" -> {
          Hypervisor hv =
              "libvirt".equals(c.string(Options.HYPERVISOR))
                  ? LibvirtHypervisor.fromConfig(c)
                  : new SimulatedHypervisor(
                      c.host(),
                      new HostResources(16, 32768, 500),
                      c.longValue(Options.SIM_LINK_MIBPS) << 20,
                      c.longValue(Options.SIM_TICK_MS));
          ComputeAgentVerticle v = new ComputeAgentVerticle(c, hv).exportVertxMetrics(vertxMetrics);
          vertx.deployVerticle(v).await(60, TimeUnit.SECONDS);
          System.out.println("compute-agent " + c.host() + ": metrics on " + v.opsPort());
        }
        default -> {
          System.err.println("unknown service " + service);
          return 2;
        }
      }
      awaitShutdown(vertx, () -> vertx.close().await());
      return 0;
    }
  }
}
