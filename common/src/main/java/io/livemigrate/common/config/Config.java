package io.livemigrate.common.config;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Typed, validated configuration built once at start-up: defaults, then an INI file (nova.conf
 * style), then environment variables {@code LIVEMIGRATE_<SECTION>__<KEY>}, then explicit overrides.
 * Unknown keys and invalid values fail start-up with every problem listed.
 */
public final class Config {
  private final Map<String, String> values;

  private Config(Map<String, String> values) {
    this.values = values;
  }

  /** Defaults only, plus overrides given as {@code section.key -> value}. */
  public static Config defaults(Map<String, String> overrides) {
    return load(null, Map.of(), overrides);
  }

  /**
   * Builds the configuration.
   *
   * @throws ConfigException listing every unknown key and invalid value
   */
  public static Config load(Path file, Map<String, String> env, Map<String, String> overrides) {
    Map<String, String> v = new HashMap<>();
    List<String> errors = new ArrayList<>();
    Options.ALL.values().forEach(o -> v.put(o.key(), o.defaultValue()));
    if (file != null) {
      readIni(file, v, errors);
    }
    env.forEach(
        (k, val) -> {
          if (!k.startsWith("LIVEMIGRATE_") || !k.contains("__")) return;
          Option o =
              Options.ALL.values().stream()
                  .filter(opt -> opt.envName().equals(k))
                  .findFirst()
                  .orElse(null);
          if (o == null) {
            errors.add("unknown environment variable " + k);
          } else {
            v.put(o.key(), val.trim());
          }
        });
    overrides.forEach(
        (k, val) -> {
          if (!Options.ALL.containsKey(k)) errors.add("unknown option " + k);
          else v.put(k, val.trim());
        });
    for (Option o : Options.ALL.values()) {
      String err = o.validate(v.get(o.key()));
      if (err != null) errors.add(err);
    }
    if (!errors.isEmpty()) {
      throw new ConfigException(errors);
    }
    return new Config(v);
  }

  private static void readIni(Path file, Map<String, String> v, List<String> errors) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file);
    } catch (IOException e) {
      errors.add("cannot read " + file + ": " + e.getMessage());
      return;
    }
    String section = "DEFAULT";
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).trim();
      if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) continue;
      if (line.startsWith("[") && line.endsWith("]")) {
        section = line.substring(1, line.length() - 1).trim();
        continue;
      }
      int eq = line.indexOf('=');
      if (eq < 0) {
        errors.add(file + ":" + (i + 1) + ": expected key = value");
        continue;
      }
      String key = section + "." + line.substring(0, eq).trim();
      if (!Options.ALL.containsKey(key)) {
        errors.add(file + ":" + (i + 1) + ": unknown option " + key);
      } else {
        v.put(key, line.substring(eq + 1).trim());
      }
    }
  }

  public String string(Option o) {
    return values.get(o.key());
  }

  public int integer(Option o) {
    return (int) Long.parseLong(values.get(o.key()).trim());
  }

  public long longValue(Option o) {
    return Long.parseLong(values.get(o.key()).trim());
  }

  public double decimal(Option o) {
    return Double.parseDouble(values.get(o.key()).trim());
  }

  public boolean bool(Option o) {
    return Boolean.parseBoolean(values.get(o.key()).trim());
  }

  /** This service's host name: the configured one, else the machine's. */
  public String host() {
    String h = string(DefaultOptions.HOST);
    if (h != null && !h.isBlank()) return h;
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "localhost";
    }
  }

  /** A copy with some keys changed (validated like any other source). */
  public Config with(Map<String, String> overrides) {
    Map<String, String> merged = new HashMap<>(values);
    List<String> errors = new ArrayList<>();
    overrides.forEach(
        (k, val) -> {
          Option o = Options.ALL.get(k);
          if (o == null) {
            errors.add("unknown option " + k);
            return;
          }
          String err = o.validate(val);
          if (err != null) errors.add(err);
          merged.put(k, val);
        });
    if (!errors.isEmpty()) throw new ConfigException(errors);
    return new Config(merged);
  }

  /** Thrown when configuration is unusable; lists every problem. */
  public static final class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final List<String> problems;

    public ConfigException(List<String> problems) {
      super("invalid configuration:\n  " + String.join("\n  ", problems));
      this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
      return problems;
    }
  }
}
