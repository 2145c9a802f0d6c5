package io.livemigrate.cli;

import io.livemigrate.conductor.policy.Decision;
import io.livemigrate.conductor.policy.MigrationPolicy;
import io.livemigrate.conductor.policy.PolicyConfig;
import io.livemigrate.conductor.policy.PolicyState;
import io.livemigrate.conductor.policy.Prediction;
import io.livemigrate.conductor.policy.Sample;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code livemigrate policy replay TRACE}: runs the convergence policy over a recorded trace of
 * progress samples (JSON lines) and prints its decisions and predictions — a dry run of a policy
 * change against what a real migration did.
 *
 * <p>A trace line: {@code {"elapsed_ms":1000, "remaining_bytes":..., "processed_bytes":...,
 * "total_bytes":..., "dirty_rate_bps":..., "bandwidth_bps":..., "iteration":1, "mode":"precopy"}}.
 * Blank lines and lines starting with {@code #} are skipped.
 */
@Command(
    name = "policy",
    description = "The convergence policy.",
    subcommands = {picocli.CommandLine.HelpCommand.class, PolicyReplay.Replay.class})
final class PolicyReplay {
  private PolicyReplay() {}

  @Command(name = "replay", description = "Replay a recorded trace of samples through the policy.")
  static final class Replay implements Callable<Integer> {
    @Parameters(description = "trace file (JSON lines)")
    Path trace;

    @Option(names = "--profile", defaultValue = "default", description = "default | recommended")
    String profile;

    @Option(names = "--completion-timeout", defaultValue = "800", description = "s per GiB")
    long perGib;

    @Option(names = "--data-gb", defaultValue = "2", description = "data GiB as Nova counts it")
    double dataGb;

    @Option(
        names = "--timeout-action",
        defaultValue = "abort",
        description = "abort | force_complete")
    String action;

    @Option(names = "--permit-post-copy")
    boolean postCopy;

    @Option(names = "--permit-auto-converge")
    boolean autoConverge;

    @Option(
        names = "--stall-window",
        defaultValue = "-1",
        description = "s; default: off, 30 when recommended")
    long stall;

    @Option(names = "--no-pause", description = "never force-complete by pausing")
    boolean noPause;

    PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
      if (!List.of("default", "recommended").contains(profile)) {
        System.err.println("unknown profile " + profile);
        return 2;
      }
      long window = stall >= 0 ? stall : "recommended".equals(profile) ? 30 : 0;
      PolicyConfig c =
          new PolicyConfig(
              profile,
              (long) (perGib * dataGb),
              action,
              500,
              10,
              75,
              dataGb,
              postCopy,
              autoConverge,
              window,
              5,
              !noPause);
      PolicyState st = PolicyState.initial(MigrationPolicy.initialDowntimeMs(c));
      out.printf(
          "profile %s, completion timeout %d s, action %s, post-copy %s, auto-converge %s,"
              + " stall window %d s%n",
          profile, c.completionTimeoutS(), action, postCopy, autoConverge, window);
      int n = 0;
      int line = 0;
      for (String l : Files.readAllLines(trace)) {
        line++;
        if (l.isBlank() || l.startsWith("#")) continue;
        JsonObject j;
        try {
          j = new JsonObject(l);
        } catch (RuntimeException e) {
          System.err.println(trace + ":" + line + ": not a JSON object");
          return 2;
        }
        Sample s =
            new Sample(
                j.getLong("elapsed_ms", 0L),
                j.getLong("remaining_bytes", 0L),
                j.getLong("processed_bytes", 0L),
                j.getLong("total_bytes", 0L),
                j.getLong("dirty_rate_bps", 0L),
                j.getLong("bandwidth_bps", 0L),
                j.getInteger("iteration", 0),
                j.getString("mode", "precopy"));
        MigrationPolicy.Result r = MigrationPolicy.evaluate(c, st, s);
        st = r.state();
        n++;
        Prediction p = r.prediction();
        for (Decision d : r.decisions()) {
          out.printf(
              "%8.1f s  %-28s eta %s, expected downtime %d ms, %s%n",
              s.elapsedMs() / 1000.0,
              d.action()
                  + (d.mode() != null ? ":" + d.mode() : "")
                  + (d.downtimeMs() > 0 ? ":" + d.downtimeMs() + "ms" : ""),
              p.etaMs() < 0 ? "never" : p.etaMs() / 1000.0 + " s",
              p.expectedDowntimeMs(),
              d.reason() + " - " + d.detail());
        }
      }
      out.printf(
          "%d samples, %d escalation steps, final action %s%n",
          n, st.escalation(), st.finalAction());
      return 0;
    }
  }
}
