package io.livemigrate.common.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.config.Config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigTest {
  private static final String TIMEOUT_ENV =
      "LIVEMIGRATE_LIBVIRT__LIVE_MIGRATION_COMPLETION_TIMEOUT";

  @TempDir Path dir;

  @Test
  void defaultsAreNovas() {
    Config c = Config.defaults(Map.of());
    assertEquals(
        800, c.integer(LibvirtOptions.COMPLETION_TIMEOUT), "live_migration_completion_timeout");
    assertEquals("abort", c.string(LibvirtOptions.TIMEOUT_ACTION), "live_migration_timeout_action");
    assertEquals(500, c.integer(LibvirtOptions.DOWNTIME), "live_migration_downtime");
    assertEquals(10, c.integer(LibvirtOptions.DOWNTIME_STEPS), "live_migration_downtime_steps");
    assertEquals(75, c.integer(LibvirtOptions.DOWNTIME_DELAY), "live_migration_downtime_delay");
    assertEquals(10, c.integer(DefaultOptions.REPORT_INTERVAL), "report_interval");
    assertEquals(60, c.integer(DefaultOptions.SERVICE_DOWN_TIME), "service_down_time");
    assertEquals(
        1,
        c.integer(DefaultOptions.MAX_CONCURRENT_LIVE_MIGRATIONS),
        "max_concurrent_live_migrations");
    assertEquals(-1, c.integer(DefaultOptions.MIGRATE_MAX_RETRIES), "migrate_max_retries");
    assertFalse(c.bool(LibvirtOptions.PERMIT_POST_COPY), "live_migration_permit_post_copy");
    assertFalse(c.bool(LibvirtOptions.PERMIT_AUTO_CONVERGE), "live_migration_permit_auto_converge");
    assertEquals(0, c.longValue(LibvirtOptions.BANDWIDTH), "live_migration_bandwidth");
  }

  @Test
  void optionsUseNovasSectionsAndNames() {
    assertEquals(
        "libvirt.live_migration_completion_timeout", LibvirtOptions.COMPLETION_TIMEOUT.key());
    assertEquals("libvirt.live_migration_timeout_action", LibvirtOptions.TIMEOUT_ACTION.key());
    assertEquals("libvirt.live_migration_downtime", LibvirtOptions.DOWNTIME.key());
    assertEquals("libvirt.live_migration_downtime_steps", LibvirtOptions.DOWNTIME_STEPS.key());
    assertEquals("libvirt.live_migration_downtime_delay", LibvirtOptions.DOWNTIME_DELAY.key());
    assertEquals("libvirt.live_migration_permit_post_copy", LibvirtOptions.PERMIT_POST_COPY.key());
    assertEquals(
        "libvirt.live_migration_permit_auto_converge", LibvirtOptions.PERMIT_AUTO_CONVERGE.key());
    assertEquals("libvirt.live_migration_bandwidth", LibvirtOptions.BANDWIDTH.key());
    assertEquals("DEFAULT.report_interval", DefaultOptions.REPORT_INTERVAL.key());
    assertEquals("DEFAULT.service_down_time", DefaultOptions.SERVICE_DOWN_TIME.key());
    assertEquals(
        "DEFAULT.max_concurrent_live_migrations",
        DefaultOptions.MAX_CONCURRENT_LIVE_MIGRATIONS.key());
    assertEquals("DEFAULT.migrate_max_retries", DefaultOptions.MIGRATE_MAX_RETRIES.key());
    assertEquals(TIMEOUT_ENV, LibvirtOptions.COMPLETION_TIMEOUT.envName());
    assertEquals("LIVEMIGRATE_DEFAULT__REPORT_INTERVAL", DefaultOptions.REPORT_INTERVAL.envName());
  }

  @Test
  void fileOverridesDefaultsAndEnvironmentOverridesFile() throws IOException {
    Path ini =
        write(
            "# nova.conf style",
            "[DEFAULT]",
            "report_interval = 5",
            "service_down_time=30",
            "; another comment",
            "",
            "[libvirt]",
            "live_migration_completion_timeout = 400",
            "live_migration_timeout_action = force_complete",
            "live_migration_permit_post_copy = True",
            "live_migration_downtime = 1000");

    Config fileOnly = Config.load(ini, Map.of(), Map.of());
    assertEquals(5, fileOnly.integer(DefaultOptions.REPORT_INTERVAL));
    assertEquals(30, fileOnly.integer(DefaultOptions.SERVICE_DOWN_TIME));
    assertEquals(400, fileOnly.integer(LibvirtOptions.COMPLETION_TIMEOUT));
    assertEquals("force_complete", fileOnly.string(LibvirtOptions.TIMEOUT_ACTION));
    assertTrue(fileOnly.bool(LibvirtOptions.PERMIT_POST_COPY));
    assertEquals(1000, fileOnly.integer(LibvirtOptions.DOWNTIME));
    assertEquals(
        10, fileOnly.integer(LibvirtOptions.DOWNTIME_STEPS), "untouched keys keep defaults");

    Config withEnv =
        Config.load(
            ini,
            Map.of(
                TIMEOUT_ENV,
                "1200",
                "LIVEMIGRATE_DEFAULT__REPORT_INTERVAL",
                "7",
                "PATH",
                "/usr/bin",
                "LIVEMIGRATE_HOME",
                "/opt/livemigrate"),
            Map.of());
    assertEquals(1200, withEnv.integer(LibvirtOptions.COMPLETION_TIMEOUT), "env overrides file");
    assertEquals(7, withEnv.integer(DefaultOptions.REPORT_INTERVAL), "env overrides file");
    assertEquals(30, withEnv.integer(DefaultOptions.SERVICE_DOWN_TIME), "file value kept");
    assertEquals(
        500,
        Config.load(null, Map.of(TIMEOUT_ENV, "1"), Map.of()).integer(LibvirtOptions.DOWNTIME),
        "env alone leaves defaults");

    Config withOverride =
        Config.load(
            ini,
            Map.of(TIMEOUT_ENV, "1200"),
            Map.of("libvirt.live_migration_completion_timeout", "0"));
    assertEquals(0, withOverride.integer(LibvirtOptions.COMPLETION_TIMEOUT), "overrides come last");
  }

  @Test
  void invalidValueInTheFileIsFineWhenTheEnvironmentReplacesIt() throws IOException {
    Path ini = write("[libvirt]", "live_migration_completion_timeout = soon");
    assertThrows(ConfigException.class, () -> Config.load(ini, Map.of(), Map.of()));
    Config c = Config.load(ini, Map.of(TIMEOUT_ENV, "900"), Map.of());
    assertEquals(900, c.integer(LibvirtOptions.COMPLETION_TIMEOUT));
  }

  @Test
  void unknownKeyInFileFails() throws IOException {
    Path ini = write("[libvirt]", "live_migration_turbo = true");
    ConfigException e = fails(() -> Config.load(ini, Map.of(), Map.of()));
    assertEquals(1, e.problems().size(), e.problems().toString());
    assertMentions(e.problems().get(0), "unknown option libvirt.live_migration_turbo", ":2:");
  }

  @Test
  void knownKeyInTheWrongSectionIsUnknown() throws IOException {
    Path ini = write("[DEFAULT]", "live_migration_downtime = 500");
    ConfigException e = fails(() -> Config.load(ini, Map.of(), Map.of()));
    assertMentions(e.problems().get(0), "DEFAULT.live_migration_downtime");
  }

  @Test
  void lineWithoutEqualsFails() throws IOException {
    Path ini = write("[libvirt]", "live_migration_downtime 500");
    ConfigException e = fails(() -> Config.load(ini, Map.of(), Map.of()));
    assertMentions(e.problems().get(0), "expected key = value");
  }

  @Test
  void unreadableFileFails() {
    ConfigException e = fails(() -> Config.load(dir.resolve("missing.conf"), Map.of(), Map.of()));
    assertMentions(e.problems().get(0), "cannot read", "missing.conf");
  }

  @Test
  void unknownEnvironmentVariableFails() {
    ConfigException e = fails(() -> Config.load(null, Map.of("LIVEMIGRATE_X__Y", "1"), Map.of()));
    assertEquals(List.of("unknown environment variable LIVEMIGRATE_X__Y"), e.problems());
  }

  @Test
  void unknownOverrideFails() {
    ConfigException e = fails(() -> Config.defaults(Map.of("libvirt.nope", "1")));
    assertMentions(e.problems().get(0), "unknown option libvirt.nope");
    ConfigException e2 = fails(() -> Config.defaults(Map.of()).with(Map.of("libvirt.nope", "1")));
    assertMentions(e2.problems().get(0), "unknown option libvirt.nope");
  }

  @ParameterizedTest(name = "{0} = ''{1}''")
  @CsvSource(
      delimiter = '|',
      value = {
        "LIVEMIGRATE_LIBVIRT__LIVE_MIGRATION_DOWNTIME        | 50     | below the minimum 100",
        "LIVEMIGRATE_LIBVIRT__LIVE_MIGRATION_DOWNTIME_STEPS  | 2      | below the minimum 3",
        "LIVEMIGRATE_DEFAULT__MIGRATE_MAX_RETRIES            | -2     | below the minimum -1",
        "LIVEMIGRATE_API__PORT                               | 65536  | above the maximum 65535",
        "LIVEMIGRATE_LIBVIRT__LIVE_MIGRATION_DOWNTIME        | 5e2    | is not an integer",
        "LIVEMIGRATE_DEFAULT__REPORT_INTERVAL                | ten    | is not an integer",
        "LIVEMIGRATE_LIBVIRT__LIVE_MIGRATION_TIMEOUT_ACTION  | pause  | is not one of",
        "LIVEMIGRATE_LIBVIRT__LIVE_MIGRATION_PERMIT_POST_COPY| yes    | is not true or false",
        "LIVEMIGRATE_LIBVIRT__LIVE_MIGRATION_PERMIT_AUTO_CONVERGE| 1  | is not true or false",
        "LIVEMIGRATE_COMPUTE__HYPERVISOR                     | xen    | is not one of",
      })
  void invalidValueFails(String env, String value, String expected) {
    ConfigException e = fails(() -> Config.load(null, Map.of(env, value), Map.of()));
    assertEquals(1, e.problems().size(), e.problems().toString());
    assertMentions(e.problems().get(0), expected, value);
    assertTrue(e.getMessage().contains(e.problems().get(0)), "message lists the problem");
  }

  @Test
  void downtimeBelowMinimumInTheFileFails() throws IOException {
    Path ini = write("[libvirt]", "live_migration_downtime = 50");
    ConfigException e = fails(() -> Config.load(ini, Map.of(), Map.of()));
    assertEquals(
        List.of("libvirt.live_migration_downtime: 50 is below the minimum 100"), e.problems());
  }

  @Test
  void everyProblemOfAFileIsListed() throws IOException {
    Path ini =
        write(
            "[DEFAULT]",
            "report_intervall = 10",
            "[libvirt]",
            "live_migration_downtime = 50",
            "live_migration_timeout_action = pause");
    ConfigException e = fails(() -> Config.load(ini, Map.of(), Map.of()));
    List<String> p = e.problems();
    assertEquals(3, p.size(), "three problems, three entries: " + p);
    assertTrue(
        p.stream().anyMatch(s -> s.contains("unknown option DEFAULT.report_intervall")),
        p.toString());
    assertTrue(
        p.stream().anyMatch(s -> s.contains("live_migration_downtime: 50 is below")), p.toString());
    assertTrue(
        p.stream().anyMatch(s -> s.contains("live_migration_timeout_action: 'pause'")),
        p.toString());
  }

  @Test
  void problemsFromFileAndEnvironmentAreListedTogether() throws IOException {
    Path ini = write("[libvirt]", "live_migration_permit_auto_converge = maybe");
    ConfigException e =
        fails(() -> Config.load(ini, Map.of("LIVEMIGRATE_X__Y", "1", TIMEOUT_ENV, "-5"), Map.of()));
    assertEquals(3, e.problems().size(), e.problems().toString());
  }

  @Test
  void withValidatesLikeAnyOtherSource() {
    Config c = Config.defaults(Map.of());
    Config changed = c.with(Map.of("libvirt.live_migration_downtime", "300"));
    assertEquals(300, changed.integer(LibvirtOptions.DOWNTIME));
    assertEquals(500, c.integer(LibvirtOptions.DOWNTIME), "the original is unchanged");
    ConfigException e = fails(() -> c.with(Map.of("libvirt.live_migration_downtime", "50")));
    assertMentions(e.problems().get(0), "below the minimum 100");
  }

  @Test
  void everyOptionDefaultIsValid() {
    for (Option o : Options.ALL.values()) {
      assertEquals(null, o.validate(o.defaultValue()), o.key());
      assertFalse(o.help().isBlank(), o.key() + " needs help text");
    }
  }

  // ------------------------------------------------------------------ helpers

  private Path write(String... lines) throws IOException {
    Path p = Files.createTempFile(dir, "livemigrate", ".conf");
    Files.write(p, List.of(lines));
    return p;
  }

  private static ConfigException fails(org.junit.jupiter.api.function.Executable e) {
    return assertThrows(ConfigException.class, e);
  }

  private static void assertMentions(String problem, String... parts) {
    for (String part : parts) {
      assertTrue(problem.contains(part), "'" + problem + "' should mention '" + part + "'");
    }
  }
}
