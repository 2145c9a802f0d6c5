package io.livemigrate.cli.faults;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.testing.BrokerFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The testbed's fault sweep (five runs of every scenario by default), for {@code TESTBED=1
 * bench/faults.sh}: a JUnit entry so that it runs on the reactor's classpath, kept out of the
 * default build by its name. The table goes to {@code cli/target/faults-testbed.md}.
 */
class LibvirtFaultsBench {
  @Test
  @Timeout(value = 6, unit = TimeUnit.HOURS)
  void sweep() throws Exception {
    int runs = Integer.parseInt(System.getProperty("faults.runs", "5"));
    String only = System.getProperty("faults.only", "");
    try (BrokerFixture broker = BrokerFixture.rabbitmq()) {
      Path work = Files.createTempDirectory("lm-faults-testbed");
      List<FaultHarness.Row> rows =
          LibvirtFaults.run(
              work,
              broker.url(),
              only.isBlank() ? List.of() : List.of(only.split(",")),
              runs,
              false);
      String t = FaultHarness.table(rows);
      System.out.print(t);
      Path out = Path.of("target", "faults-testbed.md");
      Files.writeString(out, t);
      System.out.println("(table also in " + out.toAbsolutePath() + "; logs in " + work + ")");
      assertTrue(rows.stream().allMatch(FaultHarness.Row::correct), "some scenario ended wrong");
    }
  }
}
