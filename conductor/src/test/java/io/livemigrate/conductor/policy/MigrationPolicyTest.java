package io.livemigrate.conductor.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.conductor.impl.Timeouts;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class MigrationPolicyTest {
  private static final long GIB = 1L << 30;
  private static final long MIB = 1L << 20;

  // ------------------------------------------------------------------ Nova's arithmetic

  @ParameterizedTest(name = "{0} MB RAM, {1} GB disk, block={2}: {3} GiB, {4} s")
  @CsvSource({
    "512, 20, false, 2.0, 1600", // RAM counts as at least 2 GiB
    "1536, 20, false, 2.0, 1600",
    "2048, 20, false, 2.0, 1600",
    "4096, 20, false, 4.0, 3200",
    "8192, 20, false, 8.0, 6400", // the admin guide's 8 GiB example
    "4096, 1, true, 6.0, 4800", // each disk counts as at least 2 GiB too
    "4096, 20, true, 24.0, 19200",
    "1024, 0, true, 4.0, 3200"
  })
  void completionTimeoutFormula(long memMb, long diskGb, boolean block, double gb, long seconds) {
    double data = Timeouts.dataGb(memMb, diskGb, block);
    assertEquals(gb, data, 1e-9);
    assertEquals(seconds, Timeouts.completionTimeoutSeconds(800, data));
  }

  static Stream<Arguments> ramps() {
    return Stream.of(
        // data GiB, delay between steps (s), last step at (s)
        Arguments.of(2.0, 150, 1500), // a 1 GiB guest counts as 2
        Arguments.of(4.0, 300, 3000), // 50 ms at 0 s, +45 ms every 300 s, 500 ms at 3000 s
        Arguments.of(8.0, 600, 6000)); // 500 ms only at 6000 s, abort at 6400 s
  }

  @ParameterizedTest(name = "{0} GiB: every {1} s")
  @MethodSource("ramps")
  void downtimeRampAsNova(double gb, long delay, long last) {
    List<MigrationPolicy.RampStep> steps = MigrationPolicy.downtimeSteps(500, 10, 75, gb);
    assertEquals(11, steps.size());
    for (int i = 0; i <= 10; i++) {
      assertEquals(delay * i, steps.get(i).atS(), "step " + i + " time");
      assertEquals(50 + 45 * i, steps.get(i).downtimeMs(), "step " + i + " downtime");
    }
    assertEquals(last, steps.get(10).atS());
  }

  @Test
  void rampWithOtherSettingsTruncatesAsNovaDoes() {
    // downtime 400, 3 steps: base 133.33, offset 88.88 -> 133, 222, 311, 400
    List<MigrationPolicy.RampStep> s = MigrationPolicy.downtimeSteps(400, 3, 10, 2.5);
    assertEquals(
        List.of(0L, 25L, 50L, 75L), s.stream().map(MigrationPolicy.RampStep::atS).toList());
    assertEquals(
        List.of(133, 222, 311, 400), s.stream().map(MigrationPolicy.RampStep::downtimeMs).toList());
  }

  // ------------------------------------------------------------------ replaying traces

  private static PolicyConfig config(
      String profile,
      String action,
      boolean postCopy,
      boolean autoConverge,
      long stall,
      boolean pause) {
    return new PolicyConfig(
        profile, 1600, action, 500, 10, 75, 2.0, postCopy, autoConverge, stall, 5, pause);
  }

  private static PolicyConfig nova() {
    return config("default", "abort", false, false, 0, true);
  }

  /** Feeds samples every second; returns every decision with the second it was taken. */
  private static List<String> run(PolicyConfig c, List<Sample> samples) {
    PolicyState st = PolicyState.initial(MigrationPolicy.initialDowntimeMs(c));
    List<String> out = new ArrayList<>();
    for (Sample s : samples) {
      MigrationPolicy.Result r = MigrationPolicy.evaluate(c, st, s);
      st = r.state();
      for (Decision d : r.decisions()) {
        out.add(
            s.elapsedMs() / 1000
                + "s "
                + d.action()
                + (d.mode() != null ? ":" + d.mode() : "")
                + (d.downtimeMs() > 0 ? ":" + d.downtimeMs() : "")
                + " "
                + d.reason());
      }
    }
    return out;
  }

  /** A guest dirtying faster than the link: remaining plateaus at its working set. */
  private static List<Sample> nonConverging(int seconds) {
    List<Sample> l = new ArrayList<>();
    for (int t = 1; t <= seconds; t++) {
      long remaining = t < 2 ? 2 * GIB - t * GIB : 600 * MIB + (t % 3) * 10 * MIB;
      l.add(new Sample(t * 1000L, remaining, t * GIB, 2 * GIB, 2 * GIB, GIB, t / 2, "precopy"));
    }
    return l;
  }

  private static List<Sample> converging(int seconds) {
    List<Sample> l = new ArrayList<>();
    for (int t = 1; t <= seconds; t++) {
      long remaining = Math.max(0, 2 * GIB - t * 900 * MIB);
      l.add(new Sample(t * 1000L, remaining, t * GIB, 2 * GIB, 100 * MIB, GIB, t, "precopy"));
    }
    return l;
  }

  @Test
  void novaDefaultsOnlyRampAndTimeOut() {
    List<String> d = run(nova(), nonConverging(1700));
    assertEquals("150s set_downtime:95 DOWNTIME_RAMP", d.get(0));
    assertEquals("1500s set_downtime:500 DOWNTIME_RAMP", d.get(9));
    assertEquals("1600s abort COMPLETION_TIMEOUT", d.get(10));
    assertEquals(11, d.size(), "nothing else, and nothing after the timeout: " + d);
  }

  @ParameterizedTest(name = "timeout action {0}, post-copy permitted {1}: {2}")
  @CsvSource({
    "abort, false, abort",
    "abort, true, abort",
    "force_complete, false, force_complete:pause",
    "force_complete, true, force_complete:postcopy"
  })
  void timeoutAction(String action, boolean postCopy, String expected) {
    List<String> d = run(config("default", action, postCopy, false, 0, true), nonConverging(1601));
    assertEquals("1600s " + expected + " COMPLETION_TIMEOUT", d.get(d.size() - 1));
  }

  @Test
  void stallWindows() {
    // Off (Nova's default): no stall decision before the timeout.
    assertTrue(run(nova(), nonConverging(100)).stream().noneMatch(s -> s.contains("STALLED")));
    // On: the plateau starts at 2 s (600 MiB); 30 s later it is a stall.
    List<String> on = run(config("default", "abort", false, false, 30, true), nonConverging(100));
    assertEquals(List.of("32s abort STALLED"), on);
    // Remaining that keeps making new lows is never a stall.
    List<Sample> slow = new ArrayList<>();
    for (int t = 1; t <= 100; t++) {
      slow.add(
          new Sample(
              t * 1000L,
              100 * GIB - t * GIB / 10 * 9,
              t * GIB,
              100 * GIB,
              0,
              GIB,
              t / 10,
              "precopy"));
    }
    assertTrue(run(config("default", "abort", false, false, 30, true), slow).isEmpty());
  }

  static Stream<Arguments> escalations() {
    return Stream.of(
        Arguments.of(
            true,
            true,
            true,
            List.of("set_downtime:500", "wait_auto_converge", "force_complete:postcopy")),
        Arguments.of(true, false, true, List.of("set_downtime:500", "force_complete:postcopy")),
        Arguments.of(
            false,
            true,
            true,
            List.of("set_downtime:500", "wait_auto_converge", "force_complete:pause")),
        Arguments.of(false, false, true, List.of("set_downtime:500", "force_complete:pause")),
        Arguments.of(false, false, false, List.of("set_downtime:500", "abort")));
  }

  @ParameterizedTest(name = "post-copy {0}, auto-converge {1}, pause {2}: {3}")
  @MethodSource("escalations")
  void recommendedEscalatesEarlyInOrder(
      boolean postCopy, boolean autoConverge, boolean pause, List<String> expected) {
    List<String> d =
        run(config("recommended", "abort", postCopy, autoConverge, 30, pause), nonConverging(60));
    List<String> actions = d.stream().map(s -> s.split(" ")[1]).toList();
    assertEquals(expected, actions, d.toString());
    long last = Long.parseLong(d.get(d.size() - 1).split("s ")[0]);
    assertTrue(last <= 20, "decided within the first seconds, not at the 1600 s timeout: " + d);
    assertTrue(d.stream().allMatch(s -> s.endsWith("PREDICTED_TIMEOUT")), d.toString());
  }

  @Test
  void recommendedLeavesAConvergingGuestAlone() {
    assertEquals(
        List.of(), run(config("recommended", "abort", true, true, 30, true), converging(3)));
  }

  @Test
  void predictionOfAConvergingAndANonConvergingGuest() {
    PolicyConfig c = nova();
    PolicyState st = PolicyState.initial(50);
    Prediction ok =
        MigrationPolicy.evaluate(
                c, st, new Sample(1000, GIB, GIB, 2 * GIB, 24 * MIB, GIB, 0, "precopy"))
            .prediction();
    assertTrue(ok.converging());
    assertTrue(ok.fitsDeadline());
    // 1 GiB left, net 1000 MiB/s, threshold 51.2 MiB at 50 ms: about 1 s plus the downtime.
    assertTrue(ok.etaMs() > 900 && ok.etaMs() < 1200, "eta " + ok.etaMs());
    Prediction bad =
        MigrationPolicy.evaluate(
                c, st, new Sample(1000, GIB, GIB, 2 * GIB, 2 * GIB, GIB, 1, "precopy"))
            .prediction();
    assertFalse(bad.converging());
    assertEquals(-1, bad.etaMs());
    assertFalse(bad.fitsDeadline());
    assertEquals(1000, bad.expectedDowntimeMs(), "all of the remaining GiB at 1 GiB/s");
  }

  @Test
  void nothingIsDecidedInPostCopy() {
    List<Sample> pc = new ArrayList<>();
    for (int t = 1; t <= 2000; t += 100) {
      pc.add(new Sample(t * 1000L, GIB, GIB, 2 * GIB, 0, GIB, 3, "postcopy"));
    }
    assertEquals(List.of(), run(config("recommended", "abort", true, true, 30, true), pc));
  }

  // ------------------------------------------------------------------ prediction before start

  private static PolicyConfig recommended(boolean postCopy, boolean autoConverge, boolean pause) {
    return config("recommended", "abort", postCopy, autoConverge, 30, pause);
  }

  @ParameterizedTest(name = "{0}: {5}, {6} s")
  @CsvSource({
    // guest, profile, data MiB, dirty MiB/s, bandwidth MiB/s, strategy, total s (+-0.5), rounds
    // An idle guest: one pass of its non-zero memory at the cap, plus setup.
    "idle, recommended, 128, 0, 10, precopy, 13.1, 1",
    // Half the bandwidth: 12.8 + 6.4 + 3.2 + ... until a pass fits in the first 50 ms step.
    "half, recommended, 128, 5, 10, precopy, 25.8, 8",
    "half, default, 128, 5, 10, precopy, 25.8, 8",
    // Twice the bandwidth: never converges; the recommended profile switches to post-copy after
    // the first pass (12.8 s) and two grace periods, then pulls one pass's worth (12.8 s).
    "double, recommended, 128, 20, 10, postcopy, 36.1, 0",
    // Under Nova's defaults the completion timeout (1600 s) aborts it: refused up front.
    "double, default, 128, 20, 10, refuse, 1600, 0",
    // A big guest on a fast link, dirtying a tenth of it.
    "big, recommended, 16384, 100, 1000, precopy, 18.5, 3"
  })
  void predictionBeforeStart(
      String guest,
      String profile,
      long dataMib,
      long dirtyMibps,
      long bwMibps,
      String strategy,
      double totalS,
      int rounds) {
    PolicyConfig c = "default".equals(profile) ? nova() : recommended(true, false, true);
    StartPrediction p =
        MigrationPolicy.predictBeforeStart(c, dataMib * MIB, dirtyMibps * MIB, bwMibps * MIB);
    assertEquals(strategy, p.strategy(), p.toString());
    assertEquals(totalS, p.totalMs() / 1000.0, 0.5, p.toString());
    assertEquals(rounds, p.rounds(), p.toString());
  }

  @ParameterizedTest(name = "post-copy {0}, auto-converge {1}, pause {2}: {3}")
  @CsvSource({
    "true, true, true, postcopy",
    "true, false, false, postcopy",
    "false, true, true, pause",
    "false, true, false, auto_converge",
    "false, false, true, pause",
    "false, false, false, refuse"
  })
  void aNonConvergingGuestIsPredictedToTakeTheEscalation(
      boolean postCopy, boolean autoConverge, boolean pause, String strategy) {
    StartPrediction p =
        MigrationPolicy.predictBeforeStart(
            recommended(postCopy, autoConverge, pause), 128 * MIB, 20 * MIB, 10 * MIB);
    assertEquals(strategy, p.strategy(), p.toString());
    assertEquals("NOT_CONVERGING", p.reason());
    if ("postcopy".equals(strategy))
      assertEquals(MigrationPolicy.POSTCOPY_SWITCH_MS, p.downtimeMs());
    if ("pause".equals(strategy)) assertTrue(p.downtimeMs() > 10_000, "the whole pass: " + p);
  }

  @Test
  void postCopyIsPredictedLaterWhenAutoConvergeGetsItsPassesFirst() {
    long without =
        MigrationPolicy.predictBeforeStart(
                recommended(true, false, true), 128 * MIB, 20 * MIB, 10 * MIB)
            .totalMs();
    long with =
        MigrationPolicy.predictBeforeStart(
                recommended(true, true, true), 128 * MIB, 20 * MIB, 10 * MIB)
            .totalMs();
    assertTrue(with > without, with + " vs " + without);
  }

  @Test
  void unknownBandwidthPredictsNothing() {
    StartPrediction p = MigrationPolicy.predictBeforeStart(nova(), GIB, MIB, 0);
    assertEquals("BANDWIDTH_UNKNOWN", p.reason());
    assertEquals(-1, p.totalMs());
  }

  @Test
  void autoConvergeGetsTwoPassesBeforePostCopy() {
    // One pass every 4 s (iteration = t / 4): the throttle is given its chance at 10 s
    // (iteration 2) and post-copy follows two passes later (iteration 4, at 16 s), not after the
    // 5 s grace alone.
    List<Sample> slow = new ArrayList<>();
    for (int t = 1; t <= 60; t++) {
      long remaining = t < 2 ? GIB : 600 * MIB + (t % 3) * 10 * MIB;
      slow.add(new Sample(t * 1000L, remaining, t * GIB, 2 * GIB, 2 * GIB, GIB, t / 4, "precopy"));
    }
    List<String> d = run(recommended(true, true, true), slow);
    assertEquals(3, d.size(), d.toString());
    long ac = Long.parseLong(d.get(1).split("s ")[0]);
    long pc = Long.parseLong(d.get(2).split("s ")[0]);
    assertTrue(
        d.get(1).contains("wait_auto_converge") && d.get(2).contains("postcopy"), d.toString());
    assertEquals(10, ac, d.toString());
    assertEquals(16, pc, d.toString());
    assertTrue(pc - ac <= 3 * 5, "capped at three grace periods: " + d);
  }
}
