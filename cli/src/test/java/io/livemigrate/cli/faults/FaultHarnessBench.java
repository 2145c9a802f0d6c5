package io.livemigrate.cli.faults;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The harness's full sweep (five runs of every scenario by default), for {@code bench/faults.sh}:
 * not a unit test (its name keeps it out of the default build), a JUnit entry so that it runs on
 * the reactor's classpath without installing anything. The table goes to {@code
 * cli/target/faults.md}.
 */
class FaultHarnessBench {
  @Test
  @Timeout(value = 6, unit = TimeUnit.HOURS) // far beyond the tests' default: a sweep is long
  void sweep() throws Exception {
    String runs = System.getProperty("faults.runs", "5");
    String migrations = System.getProperty("faults.migrations", "200");
    String only = System.getProperty("faults.only", "");
    FaultHarness.main(
        only.isBlank()
            ? new String[] {"runs=" + runs, "migrations=" + migrations}
            : new String[] {"runs=" + runs, "migrations=" + migrations, "only=" + only});
    Files.exists(Path.of("target", "faults.md"));
  }
}
