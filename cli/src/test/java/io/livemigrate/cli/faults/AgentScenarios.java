package io.livemigrate.cli.faults;

import io.livemigrate.cli.faults.Verdict.Expect;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The compute-agent issue's faults on simulated separate processes: the source's or the
 * destination's agent killed with SIGKILL (with and without its journal) or stopped with SIGTERM
 * while migrations copy, and started again 2 s later. A simulated host keeps its domains across the
 * agent's restart (as libvirtd does) but not its jobs, so a source fault ends the copying
 * migrations failed with the guests on the source, and a destination fault lets them complete.
 * Every migration must be terminal within service_down_time + 60 s of the restart.
 */
final class AgentScenarios {
  private static final int GUESTS = 4;
  private final Scenarios base;

  AgentScenarios(Scenarios base) {
    this.base = base;
  }

  /**
   * @param source the source's agent (else the destination's)
   * @param journal whether the faulted agent keeps its journal
   * @param sigterm SIGTERM (graceful stop) instead of SIGKILL
   */
  Verdict agentFault(String name, int run, boolean source, boolean journal, boolean sigterm)
      throws Exception {
    try (Fleet f = base.fleet(name, run, Map.of())) {
      f.addConductor();
      f.addScheduler();
      List<String> g = new ArrayList<>();
      List<Expect> expected = new ArrayList<>();
      for (int n = 0; n < GUESTS; n++) {
        String u = Scenarios.uuid(name + run, n);
        g.add(Scenarios.guest("vm" + n, u, 1024, 0, 64));
        // A copy that finished before the fault completed; the others end as the fault allows.
        expected.add(
            source ? Expect.eitherWay(u, "HostA", "HostB") : Expect.completes(u, "HostA", "HostB"));
      }
      f.addAgent("HostA", String.join(";", g), !source || journal, Scenarios.agentLink(96));
      f.addAgent("HostB", "", source || journal, Scenarios.agentLink(96));
      Scenarios.waitFor(
          "guests known",
          Duration.ofSeconds(60),
          () -> f.anyApi().get("/servers").json().getJsonArray("servers").size() >= GUESTS);
      for (Expect e : expected) Scenarios.submit(f, 0, e.instanceUuid(), "HostB");
      Scenarios.waitFor(
          "copying",
          Duration.ofSeconds(30),
          () -> {
            var m = f.latest(expected.get(0).instanceUuid());
            return m != null && m.getLong("memory_processed_bytes", 0L) > 0;
          });
      String host = source ? "HostA" : "HostB";
      Fleet.Member agent = f.agents.get(host);
      if (sigterm) agent.process.terminate(Duration.ofSeconds(30));
      else agent.process.kill();
      Scenarios.sleep(2000);
      f.startAgent(host);
      long restarted = System.nanoTime();
      // service_down_time (6 s) + 60 s
      return Verdict.check(name, f, expected, Duration.ofSeconds(66), restarted);
    }
  }
}
