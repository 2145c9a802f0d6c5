package io.livemigrate.common.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The operator's documents agree with the code: {@code docs/configuration.md} is what {@link
 * ConfigReference} generates from {@link Options}; each role's sample lists every key its services
 * read, loads without error and never opens a port to every interface silently; the Prometheus
 * scrape targets are the ports the samples give.
 */
class ConfigReferenceTest {
  static final Path SAMPLES = ConfigReference.ROOT.resolve("deploy/config");
  static final Path PROMETHEUS = ConfigReference.ROOT.resolve("deploy/prometheus");

  @Test
  void checkedInReferenceIsTheGeneratedOne() throws Exception {
    String generated = ConfigReference.markdown();
    if (Boolean.getBoolean("livemigrate.writeDocs")) {
      Files.writeString(ConfigReference.FILE, generated, StandardCharsets.UTF_8);
    }
    String checkedIn =
        Files.exists(ConfigReference.FILE) ? Files.readString(ConfigReference.FILE) : "";
    assertEquals(
        generated,
        checkedIn,
        "docs/configuration.md is out of date; regenerate it with: mvn -B -q -pl common test"
            + " -Dtest=ConfigReferenceTest -Dlivemigrate.writeDocs=true");
    for (Option o : Options.ALL.values()) {
      assertTrue(checkedIn.contains("| `" + o.name() + "` |"), o.key());
    }
  }

  /**
   * Each {@code *Options} class of the package is in {@link Options#SECTIONS} (else its keys would
   * be unknown to {@link Config} and missing here) and declares the keys of one section only.
   */
  @Test
  void everySectionClassIsRegistered() throws Exception {
    Path dir = ConfigReference.ROOT.resolve("common/src/main/java/io/livemigrate/common/config");
    Set<String> declared = new TreeSet<>();
    try (Stream<Path> files = Files.list(dir)) {
      files
          .map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith("Options.java") && !n.equals("Options.java"))
          .forEach(n -> declared.add(n.substring(0, n.length() - ".java".length())));
    }
    Set<String> registered = new TreeSet<>();
    for (Class<?> c : Options.SECTIONS) {
      registered.add(c.getSimpleName());
      Set<String> sections = new TreeSet<>();
      for (Field f : c.getFields()) {
        if (f.getType() == Option.class) sections.add(((Option) f.get(null)).section());
      }
      assertEquals(1, sections.size(), c.getSimpleName() + " declares keys of " + sections);
    }
    assertEquals(declared, registered, "Options.SECTIONS lists every *Options class");
  }

  /** The keys a sample mentions, set or commented out ({@code # key = value}), by section. */
  static Map<String, Set<String>> mentioned(Path sample) throws Exception {
    Map<String, Set<String>> m = new HashMap<>();
    String section = "DEFAULT";
    Pattern header = Pattern.compile("^\\[([^]]+)]\\s*$");
    Pattern key = Pattern.compile("^#?\\s*([a-z_][a-z0-9_]*)\\s*=.*$");
    for (String line : Files.readAllLines(sample)) {
      Matcher h = header.matcher(line.trim());
      if (h.matches()) {
        section = h.group(1);
        continue;
      }
      Matcher k = key.matcher(line.trim());
      if (k.matches()) m.computeIfAbsent(section, s -> new TreeSet<>()).add(k.group(1));
    }
    return m;
  }

  static void assertComplete(String file, Set<String> services) throws Exception {
    Path sample = SAMPLES.resolve(file);
    Config.load(sample, Map.of(), Map.of()); // throws, listing every problem
    Map<String, Set<String>> mentioned = mentioned(sample);
    Map<String, Set<String>> readers = ConfigReference.readers();
    List<String> missing = new ArrayList<>();
    for (Option o : Options.ALL.values()) {
      Set<String> r = readers.getOrDefault(o.key(), Set.of());
      boolean relevant = r.contains("*") || r.stream().anyMatch(services::contains);
      if (!relevant) continue;
      if (!mentioned.getOrDefault(o.section(), Set.of()).contains(o.name())) {
        missing.add("[" + o.section() + "] " + o.name() + " = " + o.defaultValue());
      }
    }
    assertTrue(
        missing.isEmpty(),
        file
            + " lacks keys its services read (add them, commented out at their default):\n  "
            + String.join("\n  ", missing));
    for (String line : Files.readAllLines(sample)) {
      assertFalse(
          line.trim().matches("listen\\s*=\\s*0\\.0\\.0\\.0.*"),
          file + " must not listen on every interface: " + line);
    }
  }

  @Test
  void controllerSampleIsComplete() throws Exception {
    assertComplete("controller.conf", Set.of("conductor", "scheduler"));
  }

  @Test
  void computeSampleIsComplete() throws Exception {
    assertComplete("compute.conf", Set.of("compute-agent"));
  }

  static int opsPort(String file) {
    return Config.load(SAMPLES.resolve(file), Map.of(), Map.of()).integer(OpsOptions.OPS_PORT);
  }

  @Test
  void prometheusScrapesThePortsTheSamplesGive() throws Exception {
    int controller = opsPort("controller.conf");
    int compute = opsPort("compute.conf");
    assertTrue(controller > 0 && compute > 0, "the samples give fixed metrics ports");
    String prom = Files.readString(PROMETHEUS.resolve("prometheus.yml"));
    // The conductor on [ops] port, the scheduler on port + 1, an agent on port + 2.
    assertTrue(
        prom.matches("(?s).*targets: \\[\"[^\"]+:" + controller + "\"].*service: conductor.*"),
        "conductor target :" + controller);
    assertTrue(
        prom.matches(
            "(?s).*targets: \\[\"[^\"]+:" + (controller + 1) + "\"].*service: scheduler.*"),
        "scheduler target :" + (controller + 1));
    String targets = Files.readString(PROMETHEUS.resolve("compute-targets.yml"));
    Matcher m = Pattern.compile("\"[^\"]+:(\\d+)\"").matcher(targets);
    int n = 0;
    while (m.find()) {
      assertEquals(compute + 2, Integer.parseInt(m.group(1)), "compute target " + m.group());
      n++;
    }
    assertTrue(n >= 2, "compute-targets.yml lists compute hosts");
  }
}
