package io.livemigrate.common.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.livemigrate.common.contract.AgentEvents.HostReport;
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
  void hostReportV1ReadsWithNovaDefaults() throws Exception {
    HostReport r = (HostReport) decode("host_report.v1.json");
    assertEquals(4.0, r.cpuAllocationRatio());
    assertEquals(1.0, r.ramAllocationRatio());
    assertEquals(1.0, r.diskAllocationRatio());
    assertEquals(1, r.maxOutboundMigrations(), "Nova's max_concurrent_live_migrations default");
    assertEquals(0, r.maxInboundMigrations(), "unlimited");
    assertNull(r.cpuModel());
  }

  @Test
  void destinationsV1ReadsAsNoWait() throws Exception {
    Destinations d = (Destinations) decode("destinations.v1.json");
    assertNull(d.waitReason());
    assertEquals(2, d.hosts().size());
  }
}
