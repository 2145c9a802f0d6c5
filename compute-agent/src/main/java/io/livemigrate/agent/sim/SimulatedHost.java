package io.livemigrate.agent.sim;

import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.Config.ConfigException;
import io.livemigrate.common.config.SimulatedOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * A simulated compute host as its configuration describes it: the capacity from {@code [simulated]
 * vcpus, memory_mb, disk_gb} and the guests running on it at start from {@code [simulated] guests}
 * (inline) and {@code guests_file} (JSON lines), so that {@code serve compute-agent} with the
 * simulated hypervisor has instances to migrate.
 *
 * <p>Inline syntax, one value (so it also fits one environment variable, {@code
 * LIVEMIGRATE_SIMULATED__GUESTS}):
 *
 * <pre>
 * guests = vm1:uuid=d1df1b5a-70c4-4fed-98b7-423362f2c47c,memory_mb=2048,dirty_rate_mibps=20;vm2
 * </pre>
 *
 * <p>The guests file has one JSON object per line with the same keys plus {@code name}; blank lines
 * and lines starting with {@code #} are skipped. Every problem in either source is collected and
 * reported at once, as {@link Config} does for options.
 */
public final class SimulatedHost {
  private SimulatedHost() {}

  /** The keys a guest may have, with their defaults (name has none: it is required). */
  static final Map<String, String> GUEST_KEYS = guestKeys();

  private static final Pattern UUID_FORMAT =
      Pattern.compile(
          "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  private static final Pattern NAME_FORMAT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,254}");

  private static Map<String, String> guestKeys() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("uuid", "");
    m.put("vcpus", "1");
    m.put("memory_mb", "2048");
    m.put("disk_gb", "20");
    m.put("project", "admin");
    m.put("user", "admin");
    m.put("flavor", "m1.small");
    m.put("dirty_rate_mibps", "0");
    m.put("working_set_mib", "0");
    return m;
  }

  /**
   * The simulated hypervisor this configuration describes, its guests defined and running.
   *
   * @throws ConfigException listing every invalid guest definition, duplicate name or uuid, and a
   *     host whose guests need more memory or disk than it has
   */
  public static SimulatedHypervisor fromConfig(Config c) {
    HostResources capacity = capacity(c);
    List<SimDomain> guests = guests(c, capacity);
    SimulatedHypervisor hv =
        new SimulatedHypervisor(
            c.host(),
            capacity,
            c.longValue(SimulatedOptions.SIM_LINK_MIBPS) * SimDomain.MIB,
            c.longValue(SimulatedOptions.SIM_TICK_MS));
    guests.forEach(hv::define);
    String fabric = c.string(SimulatedOptions.SIM_FABRIC_DIR);
    if (!fabric.isBlank()) hv.linkTo(SimFabric.directory(java.nio.file.Path.of(fabric)));
    String state = c.string(SimulatedOptions.SIM_STATE_FILE);
    if (!state.isBlank()) {
      // As libvirtd would, the host keeps what runs on it while the agent restarts.
      SimulatedState.keep(hv, java.nio.file.Path.of(state));
    }
    return hv;
  }

  /** The host's capacity from {@code [simulated] vcpus, memory_mb, disk_gb}. */
  public static HostResources capacity(Config c) {
    return new HostResources(
        c.integer(SimulatedOptions.SIM_VCPUS),
        c.longValue(SimulatedOptions.SIM_MEMORY_MB),
        c.longValue(SimulatedOptions.SIM_DISK_GB));
  }

  /**
   * The guests of {@code [simulated] guests} then {@code guests_file}, checked against each other
   * and against {@code capacity}.
   *
   * @throws ConfigException listing every problem
   */
  public static List<SimDomain> guests(Config c, HostResources capacity) {
    List<String> problems = new ArrayList<>();
    List<SimDomain> out = new ArrayList<>();
    String inline = c.string(SimulatedOptions.SIM_GUESTS);
    if (inline != null && !inline.isBlank()) {
      out.addAll(parseInline(inline, problems));
    }
    String file = c.string(SimulatedOptions.SIM_GUESTS_FILE);
    if (file != null && !file.isBlank()) {
      out.addAll(parseFile(Path.of(file), problems));
    }
    checkTogether(out, capacity, problems);
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
    return out;
  }

  /** Parses the inline form; problems are added to {@code problems}, bad guests left out. */
  static List<SimDomain> parseInline(String spec, List<String> problems) {
    List<SimDomain> out = new ArrayList<>();
    String where = SimulatedOptions.SIM_GUESTS.key();
    String[] entries = spec.split(";");
    for (int i = 0; i < entries.length; i++) {
      String entry = entries[i].trim();
      if (entry.isEmpty()) continue;
      String at = where + " guest " + (i + 1);
      int colon = entry.indexOf(':');
      String name = (colon < 0 ? entry : entry.substring(0, colon)).trim();
      Map<String, String> values = new LinkedHashMap<>();
      boolean ok = true;
      if (colon >= 0) {
        for (String pair : entry.substring(colon + 1).split(",")) {
          if (pair.isBlank()) continue;
          int eq = pair.indexOf('=');
          if (eq < 0) {
            problems.add(at + " (" + name + "): expected key=value, got '" + pair.trim() + "'");
            ok = false;
            continue;
          }
          String k = pair.substring(0, eq).trim();
          if (values.put(k, pair.substring(eq + 1).trim()) != null) {
            problems.add(at + " (" + name + "): " + k + " given twice");
            ok = false;
          }
        }
      }
      SimDomain d = build(at, name, values, problems);
      if (ok && d != null) out.add(d);
    }
    return out;
  }

  /** Parses a JSON-lines guests file; problems are added to {@code problems}. */
  static List<SimDomain> parseFile(Path file, List<String> problems) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      problems.add(
          SimulatedOptions.SIM_GUESTS_FILE.key() + ": cannot read " + file + ": " + e.getMessage());
      return List.of();
    }
    List<SimDomain> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).trim();
      if (line.isEmpty() || line.startsWith("#")) continue;
      String at = file + ":" + (i + 1);
      JsonObject o;
      try {
        o = new JsonObject(line);
      } catch (DecodeException | ClassCastException e) {
        problems.add(at + ": not a JSON object");
        continue;
      }
      Object name = o.getValue("name");
      Map<String, String> values = new LinkedHashMap<>();
      for (String k : o.fieldNames()) {
        if (k.equals("name")) continue;
        Object v = o.getValue(k);
        values.put(k, v == null ? "" : String.valueOf(v));
      }
      SimDomain d = build(at, name == null ? "" : String.valueOf(name), values, problems);
      if (d != null) out.add(d);
    }
    return out;
  }

  private static SimDomain build(
      String at, String name, Map<String, String> given, List<String> problems) {
    int before = problems.size();
    String label = at + (name.isEmpty() ? "" : " (" + name + ")");
    if (name.isEmpty()) {
      problems.add(label + ": a guest needs a name");
    } else if (!NAME_FORMAT.matcher(name).matches()) {
      problems.add(label + ": name '" + name + "' may use only letters, digits, '.', '_', '-'");
    }
    for (String k : given.keySet()) {
      if (!GUEST_KEYS.containsKey(k)) {
        problems.add(label + ": unknown key " + k + " (known: " + String.join(", ", keys()) + ")");
      }
    }
    Map<String, String> v = new HashMap<>(GUEST_KEYS);
    given.forEach((k, val) -> v.put(k, val));
    String uuid = v.get("uuid");
    if (uuid.isEmpty()) {
      // Stable across restarts, so the conductor keeps tracking the same instance.
      uuid =
          UUID.nameUUIDFromBytes(("livemigrate-sim:" + name).getBytes(StandardCharsets.UTF_8))
              .toString();
    } else if (!UUID_FORMAT.matcher(uuid).matches()) {
      problems.add(label + ": uuid '" + uuid + "' is not a UUID");
    }
    long vcpus = number(label, "vcpus", v, 1, 4096, problems);
    long memoryMb = number(label, "memory_mb", v, 1, 1L << 30, problems);
    long diskGb = number(label, "disk_gb", v, 0, 1L << 30, problems);
    long dirtyMibps = number(label, "dirty_rate_mibps", v, 0, 1_000_000, problems);
    long workingSetMib = number(label, "working_set_mib", v, 0, 1L << 30, problems);
    if (problems.size() == before && workingSetMib > memoryMb) {
      problems.add(
          label + ": working_set_mib " + workingSetMib + " is larger than memory_mb " + memoryMb);
    }
    for (String k : List.of("project", "user", "flavor")) {
      if (v.get(k).isBlank()) problems.add(label + ": " + k + " must not be empty");
    }
    if (problems.size() != before) return null;
    return new SimDomain(
        uuid.toLowerCase(),
        name,
        (int) vcpus,
        memoryMb,
        diskGb,
        v.get("project"),
        v.get("user"),
        v.get("flavor"),
        dirtyMibps * SimDomain.MIB,
        workingSetMib * SimDomain.MIB,
        false);
  }

  private static long number(
      String label, String key, Map<String, String> v, long min, long max, List<String> problems) {
    String s = v.get(key);
    long n;
    try {
      n = Long.parseLong(s.trim());
    } catch (NumberFormatException e) {
      problems.add(label + ": " + key + " '" + s + "' is not an integer");
      return min;
    }
    if (n < min || n > max) {
      problems.add(label + ": " + key + " " + n + " is outside " + min + ".." + max);
      return min;
    }
    return n;
  }

  private static void checkTogether(
      List<SimDomain> guests, HostResources capacity, List<String> problems) {
    Map<String, Integer> names = new HashMap<>();
    Map<String, String> uuids = new HashMap<>();
    long memory = 0;
    long disk = 0;
    for (SimDomain d : guests) {
      if (names.merge(d.name(), 1, Integer::sum) == 2) {
        problems.add("guest name " + d.name() + " is defined more than once");
      }
      String other = uuids.putIfAbsent(d.uuid(), d.name());
      if (other != null) {
        problems.add("guests " + other + " and " + d.name() + " have the same uuid " + d.uuid());
      }
      memory += d.memoryMb();
      disk += d.diskGb();
    }
    if (memory > capacity.memoryMb()) {
      problems.add(
          "the guests need "
              + memory
              + " MiB of memory, more than the host's "
              + SimulatedOptions.SIM_MEMORY_MB.key()
              + " = "
              + capacity.memoryMb());
    }
    if (disk > capacity.diskGb()) {
      problems.add(
          "the guests need "
              + disk
              + " GiB of disk, more than the host's "
              + SimulatedOptions.SIM_DISK_GB.key()
              + " = "
              + capacity.diskGb());
    }
  }

  private static Set<String> keys() {
    return GUEST_KEYS.keySet();
  }
}
