package io.livemigrate.common.ops;

import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;

/** Creates the Prometheus registries a service exports. */
public final class Registries {
  private Registries() {}

  /** A registry with JVM metrics bound, tagged with the service's name. */
  public static PrometheusMeterRegistry create(String service) {
    PrometheusMeterRegistry r = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    r.config().commonTags("service_name", service);
    new JvmMemoryMetrics().bindTo(r);
    new JvmThreadMetrics().bindTo(r);
    new ProcessorMetrics().bindTo(r);
    @SuppressWarnings("resource")
    JvmGcMetrics gc = new JvmGcMetrics();
    gc.bindTo(r);
    return r;
  }

  /**
   * A registry for Vert.x's own metrics ({@code vertx_*}: event loops, HTTP server, pools).
   *
   * <p>Separate from the service registry on purpose: Vert.x binds its metrics when the Vertx
   * instance is created, before any service exists, and one Vertx may carry several services (the
   * all-in-one). The service that exports it appends it to its scrape (see {@link OpsServer}). No
   * JVM binders here: the service registry has them, and a family must appear once per scrape.
   */
  public static PrometheusMeterRegistry forVertx(String service) {
    PrometheusMeterRegistry r = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    r.config().commonTags("service_name", service);
    return r;
  }

  /** A Vertx whose metrics go to {@code registry} (from {@link #forVertx}). */
  public static Vertx vertx(PrometheusMeterRegistry registry) {
    return Vertx.builder()
        .with(
            new VertxOptions()
                .setMetricsOptions(
                    new MicrometerMetricsOptions().setEnabled(true).setJvmMetricsEnabled(false)))
        .withMetrics(new MicrometerMetricsFactory(registry))
        .build();
  }
}
