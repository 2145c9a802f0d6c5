package io.livemigrate.common.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes {@code docs/configuration.md} from {@link Options}: every key with its section, default,
 * bounds or choices, environment variable, help, and the services whose code reads it (found by
 * scanning each module's sources for {@code <Section>Options.NAME}, e.g. {@code
 * LibvirtOptions.BANDWIDTH}). {@link ConfigReferenceTest} fails when the checked-in file differs;
 * regenerate with
 *
 * <pre>
 * mvn -B -q -pl common test -Dtest=ConfigReferenceTest -Dlivemigrate.writeDocs=true
 * </pre>
 */
final class ConfigReference {
  private ConfigReference() {}

  /** The repository's root (tests run in the module's directory). */
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  static final Path FILE = ROOT.resolve("docs/configuration.md");

  /** Services by the module directory that holds their code; common code runs in all of them. */
  static final Map<String, String> MODULES =
      Map.of(
          "conductor", "conductor",
          "scheduler", "scheduler",
          "compute-agent", "compute-agent",
          "common", "*");

  static final List<String> SECTION_ORDER =
      List.of(
          "DEFAULT",
          "api",
          "conductor",
          "scheduler",
          "compute",
          "libvirt",
          "simulated",
          "ops",
          "bus");

  static final Map<String, String> SECTION_TEXT =
      Map.of(
          "DEFAULT", "Identity, broker and shared limits, as in nova.conf's `[DEFAULT]`.",
          "api", "The Nova-compatible REST API of the conductor.",
          "conductor", "The migration saga: store, step deadlines and the convergence policy.",
          "scheduler", "Destination selection and cluster-wide limits.",
          "compute", "The compute agent and its hypervisor driver.",
          "libvirt",
              "Live-migration behaviour with Nova's names and defaults. The conductor enforces the"
                  + " timeouts; each compute host says what its outbound migrations may do"
                  + " (post-copy, auto-converge) and how to reach libvirt.",
          "simulated",
              "The simulated hypervisor (the all-in-one's and `serve compute-agent`'s default):"
                  + " its host, link and guests.",
          "ops", "`/metrics` and `/health` of every service.",
          "bus", "The RabbitMQ bus adapter.");

  /** The services whose code reads each option, by option key. */
  static Map<String, Set<String>> readers() {
    // By the reference as code spells it, SectionOptions.FIELD.
    Map<String, String> keyByField = new TreeMap<>();
    for (Class<?> c : Options.SECTIONS) {
      for (Field f : c.getFields()) {
        if (f.getType() != Option.class) continue;
        try {
          keyByField.put(c.getSimpleName() + "." + f.getName(), ((Option) f.get(null)).key());
        } catch (IllegalAccessException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    Pattern ref = Pattern.compile("\\b([A-Z][A-Za-z]*Options\\.[A-Z][A-Z0-9_]*)\\b");
    Map<String, Set<String>> readers = new TreeMap<>();
    for (var m : MODULES.entrySet()) {
      Path src = ROOT.resolve(m.getKey()).resolve("src/main/java");
      try (Stream<Path> files = Files.walk(src)) {
        for (Path p : files.filter(x -> x.toString().endsWith(".java")).toList()) {
          Matcher x = ref.matcher(Files.readString(p, StandardCharsets.UTF_8));
          while (x.find()) {
            String key = keyByField.get(x.group(1));
            if (key != null) readers.computeIfAbsent(key, k -> new TreeSet<>()).add(m.getValue());
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    // Read where the launcher starts a service (cli's ServeCommand), for that service.
    LAUNCHER_READS.forEach(
        (key, service) -> readers.computeIfAbsent(key, k -> new TreeSet<>()).add(service));
    return readers;
  }

  /** Keys the cli module reads on a service's behalf when it starts it. */
  static final Map<String, String> LAUNCHER_READS =
      Map.of(ComputeOptions.HYPERVISOR.key(), "compute-agent");

  static String readBy(Set<String> services) {
    if (services == null || services.isEmpty()) return "all-in-one only";
    if (services.contains("*")) return "every service";
    return String.join(", ", services);
  }

  static String allowed(Option o) {
    return switch (o.kind()) {
      case INT -> "integer " + o.min() + " – " + o.max();
      case FLOAT -> "number ≥ 0";
      case BOOL -> "`true`, `false`";
      case CHOICE -> String.join(", ", o.choices().stream().map(c -> "`" + c + "`").toList());
      case STRING -> "text";
    };
  }

  static String cell(String s) {
    return s.replace("|", "\\|").replace("\n", " ");
  }

  /** The whole reference, as Markdown. */
  static String markdown() {
    Map<String, List<Option>> bySection = new LinkedHashMap<>();
    for (String s : SECTION_ORDER) bySection.put(s, new ArrayList<>());
    for (Option o : Options.ALL.values()) {
      bySection.computeIfAbsent(o.section(), s -> new ArrayList<>()).add(o);
    }
    Map<String, Set<String>> readers = readers();
    StringBuilder b = new StringBuilder();
    b.append("# Configuration reference\n\n")
        .append("<!-- Generated from the *Options.java classes of common's config package by")
        .append(" ConfigReference (common's tests); do not edit:")
        .append(" ConfigReferenceTest fails when this file is out of date. Regenerate with\n")
        .append("     mvn -B -q -pl common test -Dtest=ConfigReferenceTest")
        .append(" -Dlivemigrate.writeDocs=true -->\n\n")
        .append(
            "Every service reads one nova.conf-style file (`--config FILE`: `[section]` headers,")
        .append(
            " `key = value` lines, `#` comments), then the environment: `LIVEMIGRATE_<SECTION>__<KEY>`")
        .append(" (e.g. `LIVEMIGRATE_LIBVIRT__LIVE_MIGRATION_BANDWIDTH=100`) overrides the file.")
        .append(" Every key has a default; an unknown key, an unknown `LIVEMIGRATE_*__*` variable")
        .append(" or an invalid value stops start-up with every problem listed (exit status 78).")
        .append(" Keys Nova has keep Nova's names and defaults.\n\n")
        .append(
            "Samples per role: [`deploy/config/controller.conf`](../deploy/config/controller.conf)")
        .append(
            " (conductor + scheduler) and [`deploy/config/compute.conf`](../deploy/config/compute.conf).")
        .append(" \"Read by\" names the services whose code reads the key.\n\n");
    for (var e : bySection.entrySet()) {
      if (e.getValue().isEmpty()) continue;
      b.append("- [`[")
          .append(e.getKey())
          .append("]`](#")
          .append(e.getKey().toLowerCase())
          .append(")\n");
    }
    for (var e : bySection.entrySet()) {
      if (e.getValue().isEmpty()) continue;
      b.append("\n## ").append(e.getKey()).append("\n\n");
      String text = SECTION_TEXT.get(e.getKey());
      if (text != null) b.append(text).append("\n\n");
      b.append("| key | default | allowed | read by | environment variable | meaning |\n")
          .append("|---|---|---|---|---|---|\n");
      for (Option o : e.getValue()) {
        String def = o.defaultValue().isEmpty() ? "*(empty)*" : "`" + cell(o.defaultValue()) + "`";
        b.append("| `")
            .append(o.name())
            .append("` | ")
            .append(def)
            .append(" | ")
            .append(allowed(o))
            .append(" | ")
            .append(readBy(readers.get(o.key())))
            .append(" | `")
            .append(o.envName())
            .append("` | ")
            .append(cell(o.help()))
            .append(" |\n");
      }
    }
    return b.toString();
  }

  /** Writes the reference to {@code docs/configuration.md} (or the file given). */
  public static void main(String[] args) throws IOException {
    Path out = args.length > 0 ? Path.of(args[0]) : FILE;
    Files.writeString(out, markdown(), StandardCharsets.UTF_8);
  }
}
