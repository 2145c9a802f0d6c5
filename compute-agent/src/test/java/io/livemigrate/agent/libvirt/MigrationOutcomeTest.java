package io.livemigrate.agent.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which figures a finished migration reports: the destination's, the event's, the last sample. */
class MigrationOutcomeTest {
  private static final Map<String, Long> DEST =
      Map.of("downtime", 40L, "memory_total", 1000L, "memory_processed", 900L);

  @Test
  void theDestinationsDowntimeWinsOverTheEvents() {
    assertEquals(DEST, MigrationOutcome.merged(DEST, Map.of("downtime", 7L)));
  }

  @Test
  void afterPostCopyTheSourcesEventGivesTheDowntime() {
    MigrationJob job = new MigrationJob("vm-1");
    job.postCopy = true;
    Map<String, Long> event = Map.of("downtime", 12L, "memory_total", 2000L);
    MigrationResult r = MigrationOutcome.finished(job, MigrationOutcome.merged(Map.of(), event), 5);
    assertEquals(12L, r.downtimeMs());
    assertEquals(2000L, r.memoryTotalBytes());
    assertEquals("postcopy", r.mode());
  }

  @Test
  void destinationFiguresWithoutADowntimeTakeTheEventsDowntimeOnly() {
    Map<String, Long> dest = Map.of("memory_total", 1000L, "time_elapsed", 3000L);
    Map<String, Long> m = MigrationOutcome.merged(dest, Map.of("downtime", 9L, "memory_total", 5L));
    assertEquals(Map.of("memory_total", 1000L, "time_elapsed", 3000L, "downtime", 9L), m);
  }

  @Test
  void withNeitherTheDowntimeIsUnknownAndTheLastSampleIsAll() {
    MigrationJob job = new MigrationJob("vm-1");
    job.suspended = true;
    job.last = new JobStats("paused", 100, 90, 10, 0, 0, 0, 0, 0, 3, 0, 777);
    MigrationResult r = MigrationOutcome.finished(job, MigrationOutcome.merged(Map.of(), null), 55);
    assertEquals(-1L, r.downtimeMs());
    assertEquals(90L, r.memoryTransferredBytes());
    assertEquals(3, r.iterations());
    assertEquals(55L, r.elapsedMs());
    assertEquals("paused", r.mode());
  }
}
