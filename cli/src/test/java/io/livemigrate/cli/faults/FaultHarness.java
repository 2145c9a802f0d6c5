package io.livemigrate.cli.faults;

import io.livemigrate.common.testing.BrokerFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fault-injection harness: runs each scenario against separate processes on the real RabbitMQ
 * and a PostgreSQL of its own, {@code runs} times, and prints one table row per scenario (runs,
 * terminal states reached, seconds from the fault's end to the last terminal state, where the VMs
 * run per hypervisor against the API's view, correct or not). {@code bench/faults.sh} runs it;
 * {@link FaultHarnessTest} runs every scenario once in the default build.
 *
 * <p>Arguments: {@code runs=N} (default 5), {@code only=name,name} (default all), {@code
 * migrations=N} for the two-conductor scenario (default 200).
 */
public final class FaultHarness {
  /** The scenarios by name, in the order they run. */
  static List<String> names() {
    return List.of(
        "two-conductors-kill",
        "postgres-restart",
        "scheduler-kill",
        "control-plane-restart",
        "all-in-one-restart",
        "all-in-one-kill-after-accept",
        "source-agent-kill",
        "source-agent-kill-no-journal",
        "dest-agent-kill",
        "dest-agent-kill-no-journal",
        "source-agent-sigterm");
  }

  /** One scenario's runs. */
  record Row(String scenario, List<Verdict> runs) {
    boolean correct() {
      return runs.stream().allMatch(Verdict::correct);
    }
  }

  private final Path work;
  private final String brokerUrl;

  FaultHarness(Path work, String brokerUrl) {
    this.work = work;
    this.brokerUrl = brokerUrl;
  }

  List<Row> run(List<String> only, int runs, int migrations) throws Exception {
    for (String n : only) {
      // A scenario name that matches nothing would run nothing and pass.
      if (!names().contains(n)) throw new IllegalArgumentException("no scenario " + n);
    }
    List<Row> rows = new ArrayList<>();
    try (PrivatePostgres pg = PrivatePostgres.start(freePort())) {
      Scenarios s = new Scenarios(brokerUrl, pg, work);
      AgentScenarios agents = new AgentScenarios(s);
      for (String name : names()) {
        if (!only.isEmpty() && !only.contains(name)) continue;
        List<Verdict> vs = new ArrayList<>();
        for (int r = 1; r <= runs; r++) {
          Verdict v =
              switch (name) {
                case "two-conductors-kill" -> s.twoConductorsOneKilled(r, migrations);
                case "postgres-restart" -> s.postgresRestart(r);
                case "scheduler-kill" -> s.schedulerKilled(r);
                case "control-plane-restart" -> s.controlPlaneRestart(r);
                case "source-agent-kill" -> agents.agentFault(name, r, true, true, false);
                case "source-agent-kill-no-journal" ->
                    agents.agentFault(name, r, true, false, false);
                case "dest-agent-kill" -> agents.agentFault(name, r, false, true, false);
                case "dest-agent-kill-no-journal" ->
                    agents.agentFault(name, r, false, false, false);
                case "source-agent-sigterm" -> agents.agentFault(name, r, true, true, true);
                case "all-in-one-restart" ->
                    new AllInOneRestart(work.resolve("aio-" + r), freePort(), freePortRange(5))
                        .run(false);
                case "all-in-one-kill-after-accept" ->
                    new AllInOneRestart(work.resolve("aio-kill-" + r), freePort(), freePortRange(5))
                        .run(true);
                default -> throw new IllegalArgumentException("no scenario " + name);
              };
          printRun(name, r, v);
          vs.add(v);
        }
        rows.add(new Row(name, vs));
      }
    }
    return rows;
  }

  /** The line bench/faults.sh greps for each run. */
  static void printRun(String scenario, int run, Verdict v) {
    System.out.println(
        "[faults] "
            + scenario
            + " run "
            + run
            + ": "
            + (v.correct() ? "correct" : "WRONG " + v.problems()));
  }

  /** A port nobody listens on now (several harnesses may run on one machine). */
  static int freePort() throws java.io.IOException {
    try (java.net.ServerSocket s =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** The first of {@code n} consecutive free ports (the all-in-one numbers its services so). */
  static int freePortRange(int n) throws java.io.IOException {
    for (int attempt = 0; attempt < 50; attempt++) {
      int base = 20_000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(20_000);
      boolean ok = true;
      for (int i = 0; i < n && ok; i++) {
        try (java.net.ServerSocket s =
            new java.net.ServerSocket(base + i, 1, java.net.InetAddress.getLoopbackAddress())) {
          ok = true;
        } catch (java.io.IOException e) {
          ok = false;
        }
      }
      if (ok) return base;
    }
    throw new java.io.IOException("no " + n + " consecutive free ports");
  }

  /** The table, as markdown (README and docs/faults.md take it as it is). */
  static String table(List<Row> rows) {
    StringBuilder b = new StringBuilder();
    b.append(
        "| scenario | runs | terminal reached | seconds to terminal after the fault (p50 / max)"
            + " | VM placement: hypervisor vs API | correct |\n");
    b.append("|---|---|---|---|---|---|\n");
    for (Row r : rows) {
      int migrations = r.runs().stream().mapToInt(Verdict::migrations).sum();
      int terminal = r.runs().stream().mapToInt(Verdict::terminal).sum();
      double[] secs = r.runs().stream().mapToDouble(Verdict::secondsToTerminal).sorted().toArray();
      double p50 = secs.length == 0 ? 0 : secs[(secs.length - 1) / 2];
      double max = secs.length == 0 ? 0 : secs[secs.length - 1];
      long right = r.runs().stream().filter(Verdict::correct).count();
      b.append(
          String.format(
              "| %s | %d | %d/%d | %.1f / %.1f | %s | %s |%n",
              r.scenario(),
              r.runs().size(),
              terminal,
              migrations,
              p50,
              max,
              r.runs().get(r.runs().size() - 1).placement(),
              right == r.runs().size()
                  ? "yes, " + right + "/" + r.runs().size()
                  : "NO, " + right + "/" + r.runs().size()));
    }
    return b.toString();
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new LinkedHashMap<>();
    for (String arg : args) {
      int eq = arg.indexOf('=');
      if (eq > 0) a.put(arg.substring(0, eq), arg.substring(eq + 1));
    }
    int runs = Integer.parseInt(a.getOrDefault("runs", "5"));
    int migrations = Integer.parseInt(a.getOrDefault("migrations", "200"));
    List<String> only = a.containsKey("only") ? List.of(a.get("only").split(",")) : List.of();
    try (BrokerFixture broker = BrokerFixture.best()) {
      Path work = Files.createTempDirectory("lm-faults");
      List<Row> rows = new FaultHarness(work, broker.url()).run(only, runs, migrations);
      String t = table(rows);
      System.out.println();
      System.out.print(t);
      Path out = Path.of("target", "faults.md");
      Files.createDirectories(out.getParent());
      Files.writeString(out, t);
      System.out.println("\n(table also in " + out.toAbsolutePath() + "; logs in " + work + ")");
      for (Row r : rows) {
        for (Verdict v : r.runs()) {
          if (!v.correct()) System.out.println(r.scenario() + ": " + v.problems());
        }
      }
      if (!rows.stream().allMatch(Row::correct)) {
        throw new AssertionError("some scenario ended wrong; see the table and the logs");
      }
    }
  }
}
