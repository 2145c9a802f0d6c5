package io.livemigrate.agent.libvirt;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * Which libvirt URI a migration to a named host goes to: {@code [libvirt] live_migration_uri} with
 * {@code %s} replaced by the host's inbound address from {@code live_migration_inbound_addrs}
 * ({@code host=addr,...}), or by the host name itself when it is not listed.
 */
final class MigrationUris implements Function<String, String> {
  private final String template;
  private final Map<String, String> addrs;

  /**
   * @throws IllegalArgumentException if an entry of {@code addrs} is not {@code host=addr}
   */
  MigrationUris(String template, String addrs) {
    this.template = template;
    this.addrs = parse(addrs);
  }

  private static Map<String, String> parse(String s) {
    Map<String, String> m = new HashMap<>();
    for (String pair : s.split(",")) {
      String p = pair.trim();
      if (p.isEmpty()) continue;
      int eq = p.indexOf('=');
      if (eq <= 0 || eq == p.length() - 1) {
        throw new IllegalArgumentException("live_migration_inbound_addrs: not host=addr: " + p);
      }
      m.put(p.substring(0, eq).trim(), p.substring(eq + 1).trim());
    }
    return m;
  }

  @Override
  public String apply(String host) {
    return template.replace("%s", addrs.getOrDefault(host, host));
  }
}
