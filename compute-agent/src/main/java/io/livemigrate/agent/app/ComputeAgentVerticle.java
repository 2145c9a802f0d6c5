package io.livemigrate.agent.app;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.impl.AgentSettings;
import io.livemigrate.agent.impl.ComputeAgent;
import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.common.ops.OpsServer;
import io.livemigrate.common.ops.Registries;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;

/** Wires one compute agent: bus, hypervisor, /metrics and /health. */
public final class ComputeAgentVerticle extends VerticleBase {
  private final Config config;
  private final Hypervisor hypervisor;
  private final PrometheusMeterRegistry registry = Registries.create("compute");
  private PrometheusMeterRegistry vertxRegistry;
  private Bus bus;
  private ComputeAgent agent;
  private OpsServer ops;

  public ComputeAgentVerticle(Config config, Hypervisor hypervisor) {
    this.config = config;
    this.hypervisor = hypervisor;
  }

  /**
   * Also exports Vert.x's own metrics from this service's {@code /metrics}: the registry the Vertx
   * was created with ({@link Registries#vertx}). One service per Vertx should do this.
   */
  public ComputeAgentVerticle exportVertxMetrics(PrometheusMeterRegistry vertxRegistry) {
    this.vertxRegistry = vertxRegistry;
    return this;
  }

  @Override
  public Future<?> start() {
    AgentSettings settings = AgentSettings.from(config);
    return Bus.connect(
            vertx, BusSettings.from(config), new Sender("compute", settings.host()), registry)
        .compose(
            b -> {
              bus = b;
              agent = new ComputeAgent(vertx, b, hypervisor, settings, registry);
              return agent.start();
            })
        .compose(v -> OpsServer.start(vertx, config, registries(), agent::health))
        .onSuccess(o -> ops = o);
  }

  @Override
  public Future<?> stop() {
    Future<Void> f = bus == null ? Future.succeededFuture() : bus.close();
    return f.compose(v -> ops == null ? Future.succeededFuture() : ops.close())
        .compose(v -> agent == null ? Future.succeededFuture() : agent.stop());
  }

  public int opsPort() {
    return ops.port();
  }

  public ComputeAgent agent() {
    return agent;
  }

  private java.util.List<PrometheusMeterRegistry> registries() {
    return vertxRegistry == null
        ? java.util.List.of(registry)
        : java.util.List.of(registry, vertxRegistry);
  }
}
