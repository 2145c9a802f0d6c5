package io.livemigrate.cli.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.testing.BrokerFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Each fault scenario once, in the default build: separate processes (kill -9 and SIGTERM for real)
 * on the real RabbitMQ and a private PostgreSQL. The five-run table is {@code bench/faults.sh}'s.
 * Needs RabbitMQ on 127.0.0.1 and PostgreSQL's server binaries; on CI their absence fails,
 * elsewhere it skips with the reason.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FaultHarnessTest {
  private BrokerFixture broker;
  private FaultHarness harness;

  @BeforeAll
  void start() throws Exception {
    boolean ci = "true".equals(System.getenv("CI"));
    String missing = null;
    if (!BrokerFixture.rabbitAnswers()) missing = "RabbitMQ on 127.0.0.1:5672";
    else if (PrivatePostgres.binaries() == null) missing = "PostgreSQL's server binaries";
    if (missing != null) {
      if (ci) throw new AssertionError("CI must provide " + missing);
      Assumptions.abort("no " + missing + ": the fault harness needs the real ones");
    }
    broker = BrokerFixture.rabbitmq();
    Path work = Files.createDirectories(Path.of("target", "faults"));
    harness = new FaultHarness(Files.createTempDirectory(work, "run"), broker.url());
  }

  @AfterAll
  void stop() throws Exception {
    if (broker != null) broker.close();
  }

  private void once(String scenario, int migrations) throws Exception {
    List<FaultHarness.Row> rows = harness.run(List.of(scenario), 1, migrations);
    System.out.print(FaultHarness.table(rows));
    assertEquals(1, rows.size(), scenario + " ran");
    for (FaultHarness.Row r : rows) {
      assertTrue(r.correct(), scenario + ": " + r.runs().get(0).problems());
    }
  }

  /** 60 migrations keep the suite short; bench/faults.sh runs the 200, five times. */
  @Test
  void twoConductorsOneKilledWithSigkill() throws Exception {
    once("two-conductors-kill", 60);
  }

  @Test
  void postgresRestartedMidMigration() throws Exception {
    once("postgres-restart", 0);
  }

  @Test
  void schedulerKilledWithSigkill() throws Exception {
    once("scheduler-kill", 0);
  }

  @Test
  void controlPlaneStoppedAndStarted() throws Exception {
    once("control-plane-restart", 0);
  }

  @Test
  void allInOneStoppedAndStartedOnItsData() throws Exception {
    once("all-in-one-restart", 0);
  }

  @Test
  void sourceAgentKilledWithItsJournal() throws Exception {
    once("source-agent-kill", 0);
  }

  @Test
  void sourceAgentKilledWithoutAJournal() throws Exception {
    once("source-agent-kill-no-journal", 0);
  }

  @Test
  void destinationAgentKilledWithItsJournal() throws Exception {
    once("dest-agent-kill", 0);
  }

  @Test
  void destinationAgentKilledWithoutAJournal() throws Exception {
    once("dest-agent-kill-no-journal", 0);
  }

  @Test
  void sourceAgentStoppedWithSigterm() throws Exception {
    once("source-agent-sigterm", 0);
  }

  /** H2's commit survives kill -9: the 202 the API gave is a migration after the restart. */
  @Test
  void allInOneKilledRightAfterAcceptingKeepsTheMigration() throws Exception {
    once("all-in-one-kill-after-accept", 0);
  }
}
