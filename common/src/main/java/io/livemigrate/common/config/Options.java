package io.livemigrate.common.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every configuration key of every service, gathered from the classes that declare one section's
 * keys each ({@link DefaultOptions}, {@link LibvirtOptions}, ...). Nova's names and defaults where
 * Nova has the key.
 */
public final class Options {
  private Options() {}

  /**
   * The classes that declare keys, one per section. A new section's class must be listed here, or
   * its keys are unknown to {@link Config} (ConfigReferenceTest checks that none is left out).
   */
  public static final List<Class<?>> SECTIONS =
      List.of(
          DefaultOptions.class,
          LibvirtOptions.class,
          ComputeOptions.class,
          SimulatedOptions.class,
          SchedulerOptions.class,
          ConductorOptions.class,
          ApiOptions.class,
          OpsOptions.class,
          BusOptions.class,
          KeystoneOptions.class);

  /** All keys, by {@code section.name}. */
  public static final Map<String, Option> ALL = index();

  private static Map<String, Option> index() {
    Map<String, Option> m = new LinkedHashMap<>();
    for (Class<?> c : SECTIONS) {
      for (var f : c.getFields()) {
        if (f.getType() != Option.class) continue;
        try {
          Option o = (Option) f.get(null);
          if (m.put(o.key(), o) != null) {
            throw new IllegalStateException(o.key() + " is declared twice");
          }
        } catch (IllegalAccessException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    return m;
  }
}
