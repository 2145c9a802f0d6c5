package io.livemigrate.cli;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.app.ComputeAgentVerticle;
import io.livemigrate.agent.libvirt.LibvirtHypervisor;
import io.livemigrate.agent.sim.SimulatedHost;
import io.livemigrate.cli.Lifecycle.PortUse;
import io.livemigrate.common.config.ApiOptions;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.KeystoneOptions;
import io.livemigrate.common.config.OpsOptions;
import io.livemigrate.common.ops.Registries;
import io.livemigrate.conductor.app.ConductorVerticle;
import io.livemigrate.scheduler.app.SchedulerVerticle;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Runs one service against the RabbitMQ server of its configuration, until SIGINT or SIGTERM. The
 * systemd units run exactly this.
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Run one service: conductor, scheduler or compute-agent.",
    footer = {
      "",
      "Exit status: 0 stopped by SIGINT/SIGTERM, 2 usage, 75 a port in use, 78 invalid"
          + " configuration (every problem listed)."
    })
final class ServeCommand implements Callable<Integer> {
  @Parameters(
      index = "0",
      paramLabel = "SERVICE",
      description = "conductor | scheduler | compute-agent")
  String service;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description = "nova.conf-style file; LIVEMIGRATE_<SECTION>__<KEY> variables override it")
  Path configFile;

  @Override
  public Integer call() {
    if (!List.of("conductor", "scheduler", "compute-agent").contains(service)) {
      System.err.println(
          "livemigrate serve: unknown service '"
              + service
              + "' (conductor, scheduler or compute-agent)");
      return 2;
    }
    List<PortUse> ports = new ArrayList<>();
    Vertx vertx = null;
    try {
      Config c = withOpsPort(service, Main.config(configFile, Map.of()));
      ports.addAll(ports(service, c));
      Lifecycle.checkPorts(service, ports);
      // Alone in its JVM, each service exports the Vert.x metrics of its own Vertx.
      PrometheusMeterRegistry vertxMetrics =
          Registries.forVertx("compute-agent".equals(service) ? "compute" : service);
      vertx = Registries.vertx(vertxMetrics);
      switch (service) {
        case "conductor" -> {
          String token = System.getenv("LIVEMIGRATE_ADMIN_TOKEN");
          if ((token == null || token.isBlank())
              && c.string(ApiOptions.API_TOKEN_FILE).isBlank()
              && c.string(KeystoneOptions.KEYSTONE_AUTH_URL).isBlank()) {
            throw new Lifecycle.StartupFailure(
                Lifecycle.EXIT_CONFIG,
                "livemigrate conductor: no API token: set LIVEMIGRATE_ADMIN_TOKEN (e.g. in"
                    + " /etc/livemigrate/environment), [api] token_file or [keystone_authtoken]"
                    + " auth_url");
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
        default -> {
          Hypervisor hv =
              "libvirt".equals(c.string(ComputeOptions.HYPERVISOR))
                  ? LibvirtHypervisor.fromConfig(c)
                  : SimulatedHost.fromConfig(c);
          ComputeAgentVerticle v = new ComputeAgentVerticle(c, hv).exportVertxMetrics(vertxMetrics);
          vertx.deployVerticle(v).await(60, TimeUnit.SECONDS);
          System.out.println(
              "compute-agent "
                  + c.host()
                  + ": "
                  + hv.listDomains().size()
                  + " instances on "
                  + hv.type()
                  + ", metrics on "
                  + v.opsPort());
        }
      }
    } catch (Exception e) {
      return Main.failed(service, e, ports, vertx);
    }
    Vertx running = vertx;
    Lifecycle.awaitStopSignal(service, System.err, () -> Main.close(running));
    return 0;
  }

  /** Where each service's metrics port is from {@code [ops] port}, as the all-in-one counts. */
  static int opsOffset(String service) {
    return switch (service) {
      case "conductor" -> 0;
      case "scheduler" -> 1;
      default -> 2;
    };
  }

  /**
   * The configuration with this service's own metrics port: {@code [ops] port} is the host's base
   * port, so the services of one host can share one file and never collide (0 stays any free port).
   */
  static Config withOpsPort(String service, Config c) {
    int base = c.integer(OpsOptions.OPS_PORT);
    if (base == 0 || opsOffset(service) == 0) return c;
    return c.with(Map.of(OpsOptions.OPS_PORT.key(), Integer.toString(base + opsOffset(service))));
  }

  /** The ports {@code service} listens on with this configuration. */
  static List<PortUse> ports(String service, Config c) {
    List<PortUse> l = new ArrayList<>();
    if ("conductor".equals(service)) {
      l.add(
          new PortUse(
              "API ([api] port)", c.string(ApiOptions.API_LISTEN), c.integer(ApiOptions.API_PORT)));
    }
    l.add(
        new PortUse(
            opsOffset(service) == 0
                ? "metrics and health ([ops] port)"
                : "metrics and health ([ops] port + " + opsOffset(service) + ")",
            c.string(OpsOptions.OPS_LISTEN),
            c.integer(OpsOptions.OPS_PORT)));
    return l;
  }
}
