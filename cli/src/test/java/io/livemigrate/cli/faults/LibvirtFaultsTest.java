package io.livemigrate.cli.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.testing.BrokerFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Two of the testbed's fault scenarios once, in the default build (through {@code TestbedSuite}):
 * the source's libvirtd restarted mid-migration, then the source's agent stopped with SIGTERM
 * mid-migration, which needs the agent to have reconnected to the restarted libvirtd. Separate
 * processes on real QEMU; the five-run table of every scenario is {@code TESTBED=1
 * bench/faults.sh}'s.
 */
public class LibvirtFaultsTest {
  @Test
  void libvirtdRestartedThenAgentStoppedWithSigterm() throws Exception {
    String missing = null;
    if (!"root".equals(System.getProperty("user.name"))) missing = "root (network namespaces)";
    else if (!BrokerFixture.rabbitAnswers()) missing = "RabbitMQ on 127.0.0.1:5672";
    else if (PrivatePostgres.binaries() == null) missing = "PostgreSQL's server binaries";
    if (missing != null) {
      if ("true".equals(System.getenv("CI")))
        throw new AssertionError("CI must provide " + missing);
      Assumptions.abort("the testbed fault scenarios need " + missing);
    }
    List<String> scenarios = List.of("tb-source-libvirtd-restart", "tb-source-agent-sigterm");
    try (BrokerFixture broker = BrokerFixture.rabbitmq()) {
      Path work =
          Files.createTempDirectory(Files.createDirectories(Path.of("target", "faults")), "tb");
      List<FaultHarness.Row> rows = LibvirtFaults.run(work, broker.url(), scenarios, 1, false);
      System.out.print(FaultHarness.table(rows));
      assertEquals(scenarios.size(), rows.size(), "every scenario ran");
      for (FaultHarness.Row r : rows) {
        assertTrue(r.correct(), r.scenario() + ": " + r.runs().get(0).problems());
      }
    }
  }
}
