package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * deploy/prometheus/ checked by Debian's promtool: the scrape configuration and the alert rules are
 * valid, and the rules' unit tests (alerts.test.yml) pass. Skipped off CI when promtool is missing;
 * on CI it must be installed (.ci/run does).
 */
class PrometheusRulesTest {
  private static final Path DIR = Tools.ROOT.resolve("deploy/prometheus");

  @Test
  void scrapeConfigIsValid() throws Exception {
    promtool("check", "config", "prometheus.yml");
  }

  @Test
  void alertRulesPassTheirUnitTests() throws Exception {
    promtool("check", "rules", "alerts.yml");
    promtool("test", "rules", "alerts.test.yml");
  }

  /** The extractor the dashboard check relies on; wrong here means that check proves nothing. */
  @Test
  void metricNamesAreExtractedFromPromql() {
    assertEquals(
        Set.of("livemigrate_migration_phase_duration_seconds_bucket"),
        Tools.metricNames(
            "histogram_quantile(0.95, sum by (le, phase) ("
                + "rate(livemigrate_migration_phase_duration_seconds_bucket"
                + "{phase=~\"running|post_migrating\"}[$__rate_interval])))"));
    assertEquals(
        Set.of("livemigrate_timeout_actions_total", "livemigrate_migrations_total"),
        Tools.metricNames(
            "sum(increase(livemigrate_timeout_actions_total[30m]))\n"
                + "  / sum(increase(livemigrate_migrations_total[30m])) > 0.2"));
    assertEquals(
        Set.of("up", "a_b", "c"),
        Tools.metricNames(
            "up{job=~\"x-.*\"} == 0 or on (instance) a_b * ignoring(x) group_left(y) c > 1e-3"));
  }

  private static void promtool(String... args) throws Exception {
    Path promtool = Tools.require("promtool");
    List<String> cmd = new java.util.ArrayList<>(List.of(promtool.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(DIR.toFile()).redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS)) throw new AssertionError("promtool hung: " + cmd);
      assertEquals(0, p.exitValue(), String.join(" ", cmd) + "\n" + out);
    } finally {
      p.destroyForcibly();
    }
  }
}
