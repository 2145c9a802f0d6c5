package io.livemigrate.conductor.policy;

import java.util.ArrayList;
import java.util.List;

/**
 * The convergence policy as one pure function: given the configuration, what was decided so far and
 * a new progress sample, it returns the new state, the actions to take now and a prediction. No
 * clock, no I/O: the conductor applies the decisions, table tests pin the behaviour, and {@code
 * livemigrate policy replay} runs it over recorded traces.
 *
 * <p>Both profiles apply Nova's time-based downtime ramp and the completion timeout (action abort,
 * or force-complete: post-copy where permitted, else pause). The {@code recommended} profile adds
 * stall detection and prediction: as soon as the estimate says pre-copy cannot finish before the
 * completion timeout it escalates — maximum downtime, then auto-converge's throttle (if the host
 * permits it), then post-copy or pause, else abort — one step per grace period, instead of waiting
 * out the timeout to learn what the first iterations already showed.
 */
public final class MigrationPolicy {
  /** The smoothing of the bandwidth estimate (KubeVirt's stall detector uses the same). */
  static final double EWMA_ALPHA = 0.4;

  /** A new minimum of remaining bytes must be this much lower than the last (noise margin). */
  static final double STALL_MARGIN = 0.04;

  /**
   * Memory passes auto-converge's throttle gets before the next step: QEMU raises the throttle at
   * most once per pass, so a grace period in seconds alone can end before it even starts.
   */
  static final int AUTO_CONVERGE_PASSES = 2;

  /** ...but no longer than this many grace periods, should the passes take very long. */
  static final int AUTO_CONVERGE_MAX_GRACES = 3;

  private MigrationPolicy() {}

  /** The outcome of one evaluation. */
  public record Result(PolicyState state, List<Decision> decisions, Prediction prediction) {}

  /** One step of the downtime ramp: from {@code atS} seconds on, allow {@code downtimeMs}. */
  public record RampStep(long atS, int downtimeMs) {}

  /**
   * Nova's downtime ramp ({@code nova/virt/libvirt/migration.py downtime_steps}): {@code steps + 1}
   * steps, {@code delay = int(delayPerGb * dataGb)} seconds apart, from {@code downtime/steps} up
   * to {@code downtime} ms in equal increments.
   */
  public static List<RampStep> downtimeSteps(
      int downtimeMs, int steps, int delayPerGb, double dataGb) {
    long delay = (long) (delayPerGb * dataGb);
    double base = (double) downtimeMs / steps;
    double offset = (downtimeMs - base) / steps;
    List<RampStep> out = new ArrayList<>(steps + 1);
    for (int i = 0; i <= steps; i++) {
      out.add(new RampStep(delay * i, (int) (base + offset * i)));
    }
    return out;
  }

  /** The max downtime a migration starts with: the ramp's first step. */
  public static int initialDowntimeMs(PolicyConfig c) {
    return (int) ((double) c.downtimeMs() / c.downtimeSteps());
  }

  /** Evaluates one sample. */
  public static Result evaluate(PolicyConfig c, PolicyState st, Sample s) {
    List<Decision> out = new ArrayList<>();
    double bw =
        st.bandwidthEwma() == 0
            ? s.bandwidthBps()
            : EWMA_ALPHA * s.bandwidthBps() + (1 - EWMA_ALPHA) * st.bandwidthEwma();
    long minRemaining = st.minRemaining();
    long minAt = st.minAtMs();
    if (minRemaining == Long.MAX_VALUE || s.remainingBytes() < minRemaining * (1 - STALL_MARGIN)) {
      minRemaining = s.remainingBytes();
      minAt = s.elapsedMs();
    }
    int rampStep = st.rampStep();
    int downtime = st.downtimeMs();
    int escalation = st.escalation();
    long escalatedAt = st.escalatedAtMs();
    boolean finalAction = st.finalAction();
    int acSince = st.escalatedAtIteration();

    if (!finalAction && !"postcopy".equals(s.mode())) {
      // 1. Nova's ramp: the latest step whose time has come, never lowering what is in force.
      List<RampStep> ramp =
          downtimeSteps(c.downtimeMs(), c.downtimeSteps(), c.downtimeDelayS(), c.dataGb());
      int due = -1;
      for (int i = 0; i < ramp.size(); i++) {
        if (ramp.get(i).atS() * 1000 <= s.elapsedMs()) due = i;
      }
      if (due > rampStep) {
        rampStep = due;
        int ms = ramp.get(due).downtimeMs();
        if (ms > downtime) {
          downtime = ms;
          out.add(
              Decision.setDowntime(
                  ms, "DOWNTIME_RAMP", "ramp step " + due + " at " + ramp.get(due).atS() + " s"));
        }
      }
      long timeoutMs = c.completionTimeoutS() * 1000;
      if (timeoutMs > 0 && s.elapsedMs() >= timeoutMs) {
        // 2. The completion timeout.
        out.add(
            timeoutAction(
                c,
                "COMPLETION_TIMEOUT",
                "live migration not completed after " + c.completionTimeoutS() + " sec"));
        finalAction = true;
      } else if (c.stallWindowS() > 0 && s.elapsedMs() - minAt >= c.stallWindowS() * 1000) {
        // 3. A stall: no new minimum of remaining bytes for the whole window.
        out.add(
            timeoutAction(
                c,
                "STALLED",
                "no progress for "
                    + (s.elapsedMs() - minAt) / 1000
                    + " s (lowest remaining "
                    + minRemaining
                    + " bytes)"));
        finalAction = true;
      }
    }
    Prediction p = predict(c, s, bw, downtime, minAt);
    if (!finalAction
        && c.recommended()
        && !"postcopy".equals(s.mode())
        && !"paused".equals(s.mode())
        && !p.fitsDeadline()
        && s.iteration() >= 1
        && s.elapsedMs() - escalatedAt >= c.graceS() * 1000
        && (acSince < 0
            || s.iteration() >= acSince + AUTO_CONVERGE_PASSES
            || s.elapsedMs() - escalatedAt >= AUTO_CONVERGE_MAX_GRACES * c.graceS() * 1000)) {
      // 4. Escalate: the estimate says pre-copy will not finish in time.
      String why =
          p.converging()
              ? "expected to finish in " + p.etaMs() / 1000 + " s, after the deadline"
              : "not converging: dirty rate "
                  + s.dirtyRateBps()
                  + " B/s, bandwidth "
                  + (long) bw
                  + " B/s";
      boolean acted = false;
      acSince = -1;
      while (!acted) {
        switch (escalation) {
          case 0 -> {
            if (downtime < c.downtimeMs()) {
              downtime = c.downtimeMs();
              out.add(Decision.setDowntime(downtime, "PREDICTED_TIMEOUT", why));
              acted = true;
            }
          }
          case 1 -> {
            if (c.permitAutoConverge()) {
              out.add(Decision.waitAutoConverge(why));
              acSince = s.iteration();
              acted = true;
            }
          }
          default -> {
            if (c.permitPostCopy()) {
              out.add(Decision.forceComplete("postcopy", "PREDICTED_TIMEOUT", why));
            } else if (c.allowPause()) {
              out.add(Decision.forceComplete("pause", "PREDICTED_TIMEOUT", why));
            } else {
              out.add(Decision.abort("PREDICTED_TIMEOUT", why));
            }
            finalAction = true;
            acted = true;
          }
        }
        escalation++;
      }
      escalatedAt = s.elapsedMs();
    }
    return new Result(
        new PolicyState(
            rampStep,
            downtime,
            minRemaining,
            minAt,
            bw,
            escalation,
            escalatedAt,
            finalAction,
            acSince),
        out,
        p);
  }

  /** Pre-copy passes a prediction counts before it calls the migration not converging. */
  static final int MAX_ROUNDS = 30;

  /** Setup of a migration before memory flows (connections, the incoming QEMU), ms. */
  static final long SETUP_MS = 300;

  /**
   * The guest's pause when post-copy takes over: only the device state and the switch command cross
   * the link (4 to 30 ms measured on the libvirt testbed), so a fixed allowance.
   */
  static final long POSTCOPY_SWITCH_MS = 50;

  /**
   * Predicts, before the transfer starts, what the policy will end up doing and how long it takes,
   * from Clark et al.'s pre-copy model: pass 0 sends {@code dataBytes}; each later pass sends what
   * the guest dirtied during the previous one ({@code dirtyRateBps} times its duration, at most
   * {@code dataBytes}); the stop-and-copy happens once a pass fits in the max downtime in force
   * then (the downtime ramp is followed); it does not converge when the dirty rate reaches the
   * bandwidth or after {@value #MAX_ROUNDS} passes. A migration that does not converge, or would
   * not finish before the completion timeout, is predicted to take the recommended profile's
   * escalation (auto-converge, then post-copy or pause where permitted, else refuse) or, under the
   * default profile, the completion timeout's action.
   *
   * @param dataBytes what the migration must send: the guest's non-zero memory where measured (else
   *     its RAM), plus its disks for a block migration
   * @param dirtyRateBps the guest's measured dirty rate, bytes/s
   * @param bandwidthBps the usable bandwidth, bytes/s; 0 or less = unknown
   */
  public static StartPrediction predictBeforeStart(
      PolicyConfig c, long dataBytes, long dirtyRateBps, long bandwidthBps) {
    if (bandwidthBps <= 0) {
      return new StartPrediction(
          "precopy", -1, -1, 0, "BANDWIDTH_UNKNOWN", "no bandwidth to predict with");
    }
    double b = bandwidthBps;
    double d = Math.max(0, dirtyRateBps);
    String figures =
        String.format(
            "%.1f MiB to send, dirty rate %.1f MiB/s, bandwidth %.1f MiB/s",
            dataBytes / 1048576.0, d / 1048576.0, b / 1048576.0);
    List<RampStep> ramp =
        downtimeSteps(c.downtimeMs(), c.downtimeSteps(), c.downtimeDelayS(), c.dataGb());
    double t = SETUP_MS / 1000.0;
    double v = dataBytes;
    int rounds = 0;
    boolean converges = false;
    while (rounds < MAX_ROUNDS && d < b) {
      double allowedS = allowedDowntimeMs(c, ramp, t) / 1000.0;
      if (rounds > 0 && v <= b * allowedS) {
        converges = true;
        break;
      }
      double passS = v / b;
      t += passS;
      v = Math.min(dataBytes, d * passS);
      rounds++;
    }
    long timeoutMs = c.completionTimeoutS() * 1000;
    if (converges) {
      long downtime = (long) (v / b * 1000);
      long total = (long) (t * 1000) + downtime;
      if (timeoutMs == 0 || total <= timeoutMs) {
        return new StartPrediction(
            "precopy",
            total,
            downtime,
            rounds,
            "CONVERGES",
            figures + ": " + rounds + " passes, then stop-and-copy");
      }
    }
    String reason = converges ? "PREDICTED_TIMEOUT" : "NOT_CONVERGING";
    // What is left to move once the policy acts: at most one pass's worth of dirtied memory.
    double firstPassS = SETUP_MS / 1000.0 + dataBytes / b;
    double left = Math.min(dataBytes, d * (dataBytes / b));
    if (!c.recommended()) {
      if (!"force_complete".equals(c.timeoutAction()) || timeoutMs == 0) {
        return new StartPrediction(
            "refuse",
            timeoutMs > 0 ? timeoutMs : -1,
            -1,
            0,
            reason,
            figures + ": pre-copy cannot finish; the completion timeout aborts it");
      }
      return finishBy(
          c.permitPostCopy() ? "postcopy" : "pause",
          timeoutMs / 1000.0,
          left,
          b,
          reason,
          figures + ": finished by the completion timeout's force-complete");
    }
    // The recommended profile escalates one step per grace period once the first samples show it:
    // raise the max downtime, wait for auto-converge (its passes), then post-copy or pause.
    double escalateAt = firstPassS + c.graceS();
    if (c.permitAutoConverge()) {
      if (!c.permitPostCopy() && !c.allowPause()) {
        return new StartPrediction(
            "auto_converge",
            -1,
            (long) (c.downtimeMs()),
            0,
            reason,
            figures + ": only auto-converge's throttle can make it converge");
      }
      escalateAt += Math.max(c.graceS(), AUTO_CONVERGE_PASSES * left / b);
    }
    escalateAt += c.graceS();
    if (c.permitPostCopy()) {
      return finishBy("postcopy", escalateAt, left, b, reason, figures + ": switched to post-copy");
    }
    if (c.allowPause()) {
      return finishBy("pause", escalateAt, left, b, reason, figures + ": the guest is paused");
    }
    return new StartPrediction(
        "refuse",
        -1,
        -1,
        0,
        reason,
        figures + ": neither auto-converge, post-copy nor pause is permitted");
  }

  private static StartPrediction finishBy(
      String strategy, double atS, double left, double b, String reason, String detail) {
    long rest = (long) (left / b * 1000);
    long downtime = "postcopy".equals(strategy) ? POSTCOPY_SWITCH_MS : rest;
    return new StartPrediction(strategy, (long) (atS * 1000) + rest, downtime, 0, reason, detail);
  }

  /** The max downtime the ramp allows at {@code atS} seconds (its first step from the start). */
  private static int allowedDowntimeMs(PolicyConfig c, List<RampStep> ramp, double atS) {
    int ms = initialDowntimeMs(c);
    for (RampStep r : ramp) {
      if (r.atS() <= atS) ms = Math.max(ms, r.downtimeMs());
    }
    return ms;
  }

  private static Decision timeoutAction(PolicyConfig c, String reason, String detail) {
    if ("force_complete".equals(c.timeoutAction())) {
      return Decision.forceComplete(c.permitPostCopy() ? "postcopy" : "pause", reason, detail);
    }
    return Decision.abort(reason, detail);
  }

  /**
   * Pre-copy converges when the transfer outruns the dirtying and remaining bytes keep making new
   * lows; it completes once remaining fits in the allowed downtime at the current bandwidth.
   */
  static Prediction predict(PolicyConfig c, Sample s, double bw, int downtimeMs, long minAtMs) {
    if ("postcopy".equals(s.mode()) || "paused".equals(s.mode())) {
      long eta = bw > 0 ? (long) (s.remainingBytes() / bw * 1000) : -1;
      return new Prediction(eta, "paused".equals(s.mode()) ? eta : 0, true, true);
    }
    if (bw <= 0) return new Prediction(-1, -1, false, c.completionTimeoutS() == 0);
    double threshold = bw * downtimeMs / 1000.0;
    double net = bw - s.dirtyRateBps();
    boolean plateau = s.elapsedMs() - minAtMs > Math.max(1, c.graceS()) * 1000L;
    boolean converging = s.remainingBytes() <= threshold || (net > 0 && !plateau);
    long eta;
    if (s.remainingBytes() <= threshold) {
      eta = downtimeMs;
    } else if (converging) {
      eta = (long) ((s.remainingBytes() - threshold) / net * 1000) + downtimeMs;
    } else {
      eta = -1;
    }
    long expectedDowntime = converging ? downtimeMs : (long) (s.remainingBytes() / bw * 1000);
    boolean fits =
        c.completionTimeoutS() == 0
            || (eta >= 0 && s.elapsedMs() + eta <= c.completionTimeoutS() * 1000);
    return new Prediction(eta, expectedDowntime, converging, fits);
  }
}
