package io.livemigrate.cli;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/** External tools the observability tests drive, and PromQL helpers. */
final class Tools {
  private Tools() {}

  /** The repository's root (tests run in the module's directory). */
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  /**
   * The executable on PATH. Absent: the test is skipped on a developer machine, but fails on CI
   * (env CI=true, set by .ci/run, which installs it), so CI can never pass by skipping.
   */
  static Path require(String name) {
    Optional<Path> found = which(name);
    if (found.isEmpty()) {
      if ("true".equals(System.getenv("CI"))) {
        Assertions.fail(name + " is not installed (apt-get install prometheus)");
      }
      Assumptions.abort(name + " is not installed (apt-get install prometheus); skipped off CI");
    }
    return found.get();
  }

  static Optional<Path> which(String name) {
    String path = System.getenv("PATH");
    if (path == null) return Optional.empty();
    for (String dir : path.split(File.pathSeparator)) {
      Path p = Path.of(dir, name);
      if (Files.isExecutable(p)) return Optional.of(p);
    }
    return Optional.empty();
  }

  private static final Set<String> KEYWORDS =
      Set.of(
          "by",
          "without",
          "on",
          "ignoring",
          "group_left",
          "group_right",
          "bool",
          "and",
          "or",
          "unless",
          "offset",
          "inf",
          "nan");
  private static final Pattern STRINGS = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'");
  private static final Pattern MATCHERS = Pattern.compile("\\{[^}]*}");
  private static final Pattern RANGES = Pattern.compile("\\[[^]]*]");
  private static final Pattern GROUPING =
      Pattern.compile("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)");
  private static final Pattern IDENT =
      Pattern.compile("(?<![\\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\\w(])(?!\\s*\\()");

  /**
   * The metric names a PromQL expression reads: identifiers that are not functions, keywords, label
   * names (in matchers or grouping clauses) or durations. Names are returned as written, e.g. with
   * their {@code _bucket} or {@code _total} suffix, since that is the series name Prometheus looks
   * up.
   */
  static Set<String> metricNames(String promql) {
    String s = STRINGS.matcher(promql).replaceAll(" ");
    s = MATCHERS.matcher(s).replaceAll(" ");
    s = RANGES.matcher(s).replaceAll(" ");
    s = GROUPING.matcher(s).replaceAll(" ");
    Set<String> names = new TreeSet<>();
    Matcher m = IDENT.matcher(s);
    while (m.find()) {
      String id = m.group(1);
      if (!KEYWORDS.contains(id.toLowerCase(java.util.Locale.ROOT))) names.add(id);
    }
    return names;
  }

  /** Sample names (the identifier before labels or value) of a Prometheus text exposition. */
  static Set<String> sampleNames(String exposition) {
    Set<String> names = new TreeSet<>();
    for (String line : exposition.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) continue;
      int end = 0;
      while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') end++;
      names.add(line.substring(0, end));
    }
    return names;
  }
}
