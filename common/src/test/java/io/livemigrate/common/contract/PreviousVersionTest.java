package io.livemigrate.common.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.livemigrate.common.contract.AgentCommands.PrepareDestination;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.MigrationProgress;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Readers take the previous version of every contract (a rolling upgrade runs one version apart):
 * the last samples of each superseded version, under {@code contracts-previous/}, still decode,
 * with the defaults the current record documents for what they lack.
 */
class PreviousVersionTest {
  private static Message decode(String file) throws Exception {
    try (InputStream in =
        PreviousVersionTest.class.getResourceAsStream("/contracts-previous/" + file)) {
      return Contracts.decode(
          Envelope.fromJson(new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8))));
    }
  }

  @Test
  void hostReportV2ReadsAsJobsUnknown() throws Exception {
    HostReport r = (HostReport) decode("host_report.v2.json");
    assertNull(r.jobs(), "a v2 report says nothing about jobs: unknown, not none");
    assertNull(r.sharedStorageWith());
    assertNull(r.instances().get(0).cpuXml());
    assertNull(r.instances().get(0).dirtyRateBps());
    assertEquals(2, r.maxOutboundMigrations());
  }

  @Test
  void prepareDestinationV1ReadsAsNothingToCompare() throws Exception {
    PrepareDestination p = (PrepareDestination) decode("prepare_destination.v1.json");
    assertNull(p.cpuXml());
    assertNull(p.sharedStorage());
    assertNull(p.dirtyRateBps());
    assertEquals(8192, p.memoryMb());
  }

  @Test
  void stepResultV1ReadsWithoutDetails() throws Exception {
    StepResult r = (StepResult) decode("step_result.v1.json");
    assertEquals(java.util.Map.of(), r.details());
  }

  @Test
  void migrationProgressV1ReadsAsEpochZero() throws Exception {
    MigrationProgress p = (MigrationProgress) decode("migration_progress.v1.json");
    assertEquals(0, p.epoch());
    assertEquals(3, p.iteration());
  }

  @Test
  void destinationsV1ReadsAsNoWait() throws Exception {
    Destinations d = (Destinations) decode("destinations.v1.json");
    assertNull(d.waitReason());
    assertEquals(2, d.hosts().size());
  }
}
