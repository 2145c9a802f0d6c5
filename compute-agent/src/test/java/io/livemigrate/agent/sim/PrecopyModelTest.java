package io.livemigrate.agent.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PrecopyModelTest {

  private static final long MIB = 1L << 20;
  private static final long GIB = 1L << 30;
  private static final long M = GIB;
  private static final long B = 100 * MIB;
  private static final long MAX_DOWNTIME = 300;
  private static final long STEP = 100;

  /** Steps {@code model} until it ends or {@code maxMs} of simulated time passed. */
  private static List<JobStats> run(PrecopyModel model, long maxMs) {
    List<JobStats> trace = new ArrayList<>();
    for (long t = 0; t < maxMs && model.isRunning(); t += STEP) {
      model.step(STEP);
      trace.add(model.snapshot());
    }
    return trace;
  }

  /** A guest that dirties twice as fast as the link sends, over half its memory. */
  private static PrecopyModelBuilder nonConverging() {
    return PrecopyModel.builder(M)
        .dirtyRateBps(2 * B)
        .workingSetBytes(M / 2)
        .bandwidthBps(B)
        .maxDowntimeMs(MAX_DOWNTIME);
  }

  @ParameterizedTest(name = "{0} MiB at {1} MiB/s, D = {2} B, max downtime {3} ms")
  @CsvSource({
    // memMiB, bwMiBps, dirty/bandwidth, maxDowntimeMs, maxPasses
    "1024, 100, 0.10, 300, 4",
    "4096, 1000, 0.10, 300, 4",
    "512, 50, 0.20, 500, 5",
    "8192, 1250, 0.05, 100, 5",
    "64, 256, 0.03, 50, 3",
  })
  void convergingGuestCompletesWithinMaxDowntime(
      long memMib, long bwMib, double dirtyFraction, long maxDowntimeMs, int maxPasses) {
    long mem = memMib * MIB;
    long bw = bwMib * MIB;
    PrecopyModel model =
        PrecopyModel.builder(mem)
            .dirtyRateBps((long) (bw * dirtyFraction))
            .bandwidthBps(bw)
            .maxDowntimeMs(maxDowntimeMs)
            .build();

    List<JobStats> trace = run(model, 120_000);

    assertTrue(model.isCompleted(), "should complete");
    MigrationResult r = model.result().orElseThrow();
    assertTrue(r.downtimeMs() <= maxDowntimeMs + PrecopyModel.SWITCH_COST_MS, "downtime " + r);
    assertTrue(r.downtimeMs() >= PrecopyModel.SWITCH_COST_MS, "downtime " + r);
    assertTrue(r.memoryTransferredBytes() >= mem, "processed " + r);
    assertEquals(mem, r.memoryTotalBytes());
    assertTrue(r.iterations() <= maxPasses, "passes " + r);
    assertEquals("precopy", r.mode());
    for (JobStats s : trace.subList(0, trace.size() - 1)) {
      assertTrue(s.memoryRemainingBytes() > 0 && s.memoryRemainingBytes() <= mem, "" + s);
    }
    JobStats last = model.snapshot();
    assertEquals(0, last.memoryRemainingBytes());
    assertEquals(0, last.expectedDowntimeMs());
  }

  @Test
  void nonConvergingGuestNeverCompletes() {
    PrecopyModel model = nonConverging().build();
    double thresholdBytes = B * MAX_DOWNTIME / 1000.0;

    List<JobStats> first = run(model, 30_000);
    int iterationAt30s = model.iteration();
    List<JobStats> second = run(model, 30_000);

    assertTrue(model.isRunning());
    assertTrue(model.result().isEmpty());
    List<JobStats> trace = new ArrayList<>(first);
    trace.addAll(second);
    int lastIteration = 0;
    for (JobStats s : trace) {
      assertTrue(s.iteration() >= lastIteration, "iteration went back: " + s);
      lastIteration = s.iteration();
      assertTrue(s.memoryRemainingBytes() <= M, "" + s);
      if (s.iteration() >= 1) {
        assertTrue(s.memoryRemainingBytes() > thresholdBytes, "reached threshold: " + s);
      }
    }
    assertTrue(model.iteration() > iterationAt30s, "iteration should keep growing");
    assertTrue(model.iteration() >= 8, "iteration " + model.iteration());
    JobStats last = model.snapshot();
    assertEquals(60_000, last.elapsedMs());
    assertTrue(last.memoryProcessedBytes() > 4 * M, "processed grows beyond M: " + last);
    assertEquals(2 * B, last.dirtyRateBps());
    assertEquals(0, model.throttlePercent());
  }

  @Test
  void autoConvergeThrottlesInStepsUntilItCompletes() {
    PrecopyModel model = nonConverging().autoConverge(true).build();
    List<Integer> throttles = new ArrayList<>();
    throttles.add(model.throttlePercent());

    for (long t = 0; t < 300_000 && model.isRunning(); t += STEP) {
      model.step(STEP);
      int p = model.throttlePercent();
      if (p != throttles.get(throttles.size() - 1)) {
        throttles.add(p);
      }
      if (model.isRunning()) {
        JobStats s = model.snapshot();
        assertEquals(Math.round(2 * B * (1 - model.throttle())), s.dirtyRateBps(), "" + s);
      }
    }

    assertTrue(model.isCompleted(), "auto-converge should make it complete");
    assertTrue(throttles.size() >= 4, "throttles " + throttles);
    assertEquals(List.of(0, 20, 30, 40), throttles.subList(0, 4));
    for (int i = 2; i < throttles.size(); i++) {
      assertEquals(10, throttles.get(i) - throttles.get(i - 1), "throttles " + throttles);
    }
    MigrationResult r = model.result().orElseThrow();
    assertTrue(r.downtimeMs() <= MAX_DOWNTIME + PrecopyModel.SWITCH_COST_MS, "" + r);
    assertEquals("precopy", r.mode());
  }

  @Test
  void pausedGuestCompletesAndCountsDowntimeFromThePause() {
    PrecopyModel model = nonConverging().build();
    run(model, 20_000);
    assertTrue(model.isRunning());
    long pausedAt = model.elapsedMs();

    model.pause();
    assertEquals("paused", model.mode());
    assertEquals(0, model.snapshot().dirtyRateBps());
    run(model, 60_000);

    assertTrue(model.isCompleted());
    MigrationResult r = model.result().orElseThrow();
    assertEquals("paused", r.mode());
    assertTrue(r.downtimeMs() >= r.elapsedMs() - pausedAt - 1, "" + r + " paused at " + pausedAt);
    assertTrue(r.downtimeMs() > 1_000, "the guest was down for seconds: " + r);
  }

  @Test
  void postCopySwitchCompletesWithSmallDowntime() {
    PrecopyModel model = nonConverging().postCopyPermitted(true).build();
    run(model, 15_000);
    assertTrue(model.isRunning());
    long processedBefore = model.memoryProcessedBytes();

    model.startPostCopy();
    assertEquals("postcopy", model.mode());
    assertEquals(0, model.snapshot().dirtyRateBps());
    run(model, 60_000);

    assertTrue(model.isCompleted());
    MigrationResult r = model.result().orElseThrow();
    assertEquals("postcopy", r.mode());
    assertTrue(r.downtimeMs() <= 50, "" + r);
    assertTrue(r.memoryTransferredBytes() > processedBefore);
    assertEquals(0, model.snapshot().memoryRemainingBytes());
  }

  @Test
  void postCopyWithoutPermissionThrows() {
    PrecopyModel model = nonConverging().build();
    run(model, 1_000);
    assertThrows(IllegalStateException.class, model::startPostCopy);
    assertEquals("precopy", model.mode());
    assertTrue(model.isRunning());
  }

  @Test
  void raisingMaxDowntimeLetsABorderlineGuestComplete() {
    // Every pass re-sends the 64 MiB working set: 640 ms at B, over the 300 ms allowed.
    PrecopyModel model =
        PrecopyModel.builder(M)
            .dirtyRateBps(2 * B)
            .workingSetBytes(64 * MIB)
            .bandwidthBps(B)
            .maxDowntimeMs(MAX_DOWNTIME)
            .build();
    run(model, 30_000);
    assertTrue(model.isRunning(), "borderline guest should not converge at 300 ms");

    model.setMaxDowntimeMs(1_000);
    model.step(0);

    assertTrue(model.isCompleted());
    MigrationResult r = model.result().orElseThrow();
    assertTrue(r.downtimeMs() > MAX_DOWNTIME, "" + r);
    assertTrue(r.downtimeMs() <= 1_000 + PrecopyModel.SWITCH_COST_MS, "" + r);
  }

  @Test
  void blockMigrationCopiesTheDiskBeforeMemory() {
    long disk = 2 * GIB;
    PrecopyModel model =
        PrecopyModel.builder(M)
            .diskBytes(disk)
            .dirtyRateBps(B / 10)
            .bandwidthBps(B)
            .maxDowntimeMs(MAX_DOWNTIME)
            .build();
    JobStats start = model.snapshot();
    assertEquals(0, start.diskProcessedBytes());
    assertEquals(disk, start.diskRemainingBytes());
    assertEquals(disk, start.diskTotalBytes());

    List<JobStats> trace = run(model, 120_000);

    assertTrue(model.isCompleted());
    int diskPhaseSnapshots = 0;
    long lastDiskProcessed = 0;
    for (JobStats s : trace) {
      assertTrue(s.diskProcessedBytes() >= lastDiskProcessed, "" + s);
      lastDiskProcessed = s.diskProcessedBytes();
      if (s.diskRemainingBytes() > 0) {
        diskPhaseSnapshots++;
        assertEquals(0, s.memoryProcessedBytes(), "memory moved during disk copy: " + s);
        assertEquals(M, s.memoryRemainingBytes());
      }
      if (s.memoryProcessedBytes() > 0) {
        assertTrue(s.diskProcessedBytes() >= disk, "memory before disk done: " + s);
        assertEquals(0, s.diskRemainingBytes());
      }
    }
    assertTrue(diskPhaseSnapshots > 100, "disk copy should take ~20 s: " + diskPhaseSnapshots);
    MigrationResult r = model.result().orElseThrow();
    assertTrue(r.diskTransferredBytes() >= disk, "" + r);
    assertEquals(disk, r.diskTotalBytes());
    assertEquals(0, model.snapshot().diskRemainingBytes());
  }

  @Test
  void instantGuestCompletesInOneStep() {
    PrecopyModel flagged =
        PrecopyModel.builder(64 * GIB).bandwidthBps(MIB).dirtyRateBps(GIB).instant(true).build();
    flagged.step(10);
    assertTrue(flagged.isCompleted());
    assertEquals(1, flagged.result().orElseThrow().iterations());
    assertEquals(64 * GIB, flagged.result().orElseThrow().memoryTransferredBytes());

    PrecopyModel hugeLink =
        PrecopyModel.builder(GIB).bandwidthBps(1L << 40).dirtyRateBps(GIB).build();
    hugeLink.step(10);
    assertTrue(hugeLink.isCompleted());
  }

  @Test
  void bandwidthChangeIsReflectedInExpectedDowntimeAndDuration() {
    PrecopyModel baseline =
        PrecopyModel.builder(M).dirtyRateBps(B / 10).bandwidthBps(B).maxDowntimeMs(300).build();
    run(baseline, 120_000);
    long baselineElapsed = baseline.result().orElseThrow().elapsedMs();

    PrecopyModel model =
        PrecopyModel.builder(M).dirtyRateBps(B / 10).bandwidthBps(B).maxDowntimeMs(300).build();
    run(model, 2_000);
    JobStats before = model.snapshot();
    model.setBandwidth(2 * B);
    JobStats after = model.snapshot();

    assertEquals(2 * B, after.bandwidthBps());
    assertEquals(before.memoryRemainingBytes(), after.memoryRemainingBytes());
    assertEquals(before.expectedDowntimeMs() / 2.0, after.expectedDowntimeMs(), 1.0);
    run(model, 120_000);
    long elapsed = model.result().orElseThrow().elapsedMs();
    assertTrue(elapsed < baselineElapsed * 3 / 4, elapsed + " vs " + baselineElapsed);
  }

  @Test
  void abortEndsTheModelAsCancelled() {
    PrecopyModel model = nonConverging().build();
    run(model, 1_000);
    model.abort();
    assertTrue(model.isCancelled());
    long elapsed = model.elapsedMs();
    assertEquals(PrecopyModel.Status.CANCELLED, model.step(1_000));
    assertEquals(elapsed, model.elapsedMs());
    assertTrue(model.result().isEmpty());
  }

  @Test
  void dirtyRateChangeMidRunLetsTheGuestConverge() {
    PrecopyModel model = nonConverging().build();
    run(model, 20_000);
    assertTrue(model.isRunning());
    model.setDirtyRate(0);
    run(model, 20_000);
    assertTrue(model.isCompleted());
  }

  @Test
  void sameInputsGiveTheSameResult() {
    PrecopyModel a = nonConverging().autoConverge(true).build();
    PrecopyModel b = nonConverging().autoConverge(true).build();
    run(a, 300_000);
    run(b, 300_000);
    assertEquals(a.result(), b.result());
  }

  @Test
  void invalidArgumentsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> PrecopyModel.builder(0));
    PrecopyModel model = nonConverging().build();
    assertThrows(IllegalArgumentException.class, () -> model.step(-1));
    assertThrows(IllegalArgumentException.class, () -> model.setBandwidth(0));
    assertThrows(IllegalArgumentException.class, () -> model.setMaxDowntimeMs(-1));
    assertFalse(model.isCompleted());
  }
}
