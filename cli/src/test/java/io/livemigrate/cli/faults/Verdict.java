package io.livemigrate.cli.faults;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How one run of a scenario ended, and the checks every scenario shares: each migration reached
 * exactly one terminal state, the VM runs on exactly one hypervisor, and the API shows that host
 * with the server ACTIVE.
 */
record Verdict(
    String scenario,
    boolean correct,
    int migrations,
    int terminal,
    double secondsToTerminal,
    String placement,
    List<String> problems) {

  static final Set<String> FINAL = Set.of("completed", "failed", "cancelled", "error");

  /** What a migration of one instance may end as, and where its VM must then run. */
  record Expect(String instanceUuid, String source, String dest, Set<String> outcomes) {
    static Expect completes(String uuid, String source, String dest) {
      return new Expect(uuid, source, dest, Set.of("completed"));
    }

    /** Either outcome is correct as long as the VM is where the outcome says. */
    static Expect eitherWay(String uuid, String source, String dest) {
      return new Expect(uuid, source, dest, Set.of("completed", "failed"));
    }

    static Expect fails(String uuid, String source, String dest) {
      return new Expect(uuid, source, dest, Set.of("failed"));
    }
  }

  /**
   * Waits (up to {@code within}) until every expected migration is terminal, then checks each: its
   * outcome is allowed, exactly one hypervisor runs the VM (the destination after completed, the
   * source after failed/cancelled), and the API shows that host, ACTIVE.
   *
   * @param faultEndedNs when the fault ended (System.nanoTime), for the seconds to terminal
   */
  static Verdict check(
      String scenario, Cloud fleet, List<Expect> expected, Duration within, long faultEndedNs)
      throws Exception {
    List<String> problems = new ArrayList<>();
    long deadline = System.nanoTime() + within.toNanos();
    int terminal = 0;
    while (System.nanoTime() < deadline) {
      terminal = 0;
      for (Expect e : expected) {
        JsonObject m = safeLatest(fleet, e.instanceUuid());
        if (m != null && FINAL.contains(m.getString("status"))) terminal++;
      }
      if (terminal == expected.size()) break;
      Thread.sleep(250);
    }
    double seconds = (System.nanoTime() - faultEndedNs) / 1e9;
    // The hypervisors report every second; let the last report land before comparing.
    Thread.sleep(2500);
    int placedRight = 0;
    Map<String, String> failures = new java.util.LinkedHashMap<>();
    for (Expect e : expected) {
      JsonObject m = safeLatest(fleet, e.instanceUuid());
      if (m == null) {
        problems.add(e.instanceUuid() + ": no migration");
        continue;
      }
      String status = m.getString("status");
      if (!FINAL.contains(status)) {
        problems.add(e.instanceUuid() + ": still " + status + " after " + within);
        continue;
      }
      if (!e.outcomes().contains(status)) {
        problems.add(e.instanceUuid() + ": " + status + " (" + m.getString("reason") + ")");
      }
      String expectHost = "completed".equals(status) ? e.dest() : e.source();
      Map<String, String> runs = fleet.runsOn(e.instanceUuid());
      JsonObject server = fleet.server(e.instanceUuid());
      String apiHost = server.getString("OS-EXT-SRV-ATTR:host");
      boolean ok = true;
      if (runs.size() != 1) {
        problems.add(e.instanceUuid() + ": runs on " + runs + " (expected exactly one host)");
        ok = false;
      } else if (!runs.containsKey(apiHost)) {
        problems.add(e.instanceUuid() + ": API says " + apiHost + ", hypervisors say " + runs);
        ok = false;
      }
      if ("error".equals(status)) {
        // An operator must look; where it runs was checked above. It must not look in flight.
        if ("MIGRATING".equals(server.getString("status"))) {
          problems.add(e.instanceUuid() + ": error but the server is still MIGRATING");
          ok = false;
        }
      } else if (!expectHost.equals(apiHost) || !"ACTIVE".equals(server.getString("status"))) {
        problems.add(
            e.instanceUuid()
                + ": "
                + status
                + " but the server is "
                + server.getString("status")
                + " on "
                + apiHost
                + " (expected ACTIVE on "
                + expectHost
                + ")");
        ok = false;
      }
      if (ok) placedRight++;
      if (!"completed".equals(status)) {
        failures.put(m.getString("uuid"), m.getString("reason"));
      }
    }
    problems.addAll(LogLines.check(fleet.logDir(), failures));
    return new Verdict(
        scenario,
        problems.isEmpty(),
        expected.size(),
        terminal,
        seconds,
        placedRight + "/" + expected.size() + " API == hypervisor",
        problems);
  }

  private static JsonObject safeLatest(Cloud fleet, String uuid) {
    try {
      return fleet.latest(uuid);
    } catch (RuntimeException e) {
      return null; // no conductor answers right now
    }
  }

  Verdict with(String problem) {
    List<String> p = new ArrayList<>(problems);
    p.add(problem);
    return new Verdict(scenario, false, migrations, terminal, secondsToTerminal, placement, p);
  }
}
