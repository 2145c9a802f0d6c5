package io.livemigrate.cli.faults;

import io.livemigrate.cli.Testbed;
import io.livemigrate.cli.faults.Verdict.Expect;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.LibvirtOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The compute-agent issue's faults on the two-host libvirt testbed, with real QEMU guests: a
 * conductor, a scheduler and one compute agent per libvirt host, each a separate process (the
 * agents in the root namespace, reaching their libvirtd over TCP as in production), on the real
 * RabbitMQ and a private PostgreSQL. Mid-migration (HostB to HostC, the guest copying under a 10
 * MiB/s cap): the source's or the destination's agent killed with SIGKILL (with and without its
 * journal), the source's agent stopped with SIGTERM, the source's libvirtd restarted, the source
 * host's link cut for 30 s. The verdict asks libvirt (not the agents) where the guest runs.
 *
 * <p>One fleet serves every run; a scenario restarts the agent it faults with the journal setting
 * it needs, and each run boots a fresh guest (the testbed keeps one at a time).
 */
final class LibvirtFaults {
  static final Map<String, String> URIS =
      Map.of("HostB", "qemu+tcp://10.77.88.2/system", "HostC", "qemu+tcp://10.77.88.3/system");
  private static final int SERVICE_DOWN_S = 6;

  static List<String> names() {
    return List.of(
        "tb-source-agent-kill",
        "tb-source-agent-kill-no-journal",
        "tb-dest-agent-kill",
        "tb-dest-agent-kill-no-journal",
        // Before the SIGTERM: that one then needs the agent's libvirt connection back.
        "tb-source-libvirtd-restart",
        "tb-source-agent-sigterm",
        "tb-source-link-cut-30s");
  }

  private final Fleet fleet;
  private final Map<String, String> nameOf = new HashMap<>();

  private LibvirtFaults(Fleet fleet) {
    this.fleet = fleet;
  }

  /** Runs the scenarios ({@code only}, or all) {@code runs} times each on a fresh fleet. */
  static List<FaultHarness.Row> run(
      Path work, String brokerUrl, List<String> only, int runs, boolean keepTestbed)
      throws Exception {
    for (String n : only) {
      if (!names().contains(n)) throw new IllegalArgumentException("no scenario " + n);
    }
    Testbed.lock();
    List<FaultHarness.Row> rows = new ArrayList<>();
    try {
      Testbed.run(Duration.ofMinutes(10), "install");
      Testbed.run(Duration.ofMinutes(2), "up");
      try (PrivatePostgres pg = PrivatePostgres.start(FaultHarness.freePort())) {
        Scenarios s = new Scenarios(brokerUrl, pg, work);
        try (Fleet f = s.fleet("testbed", 0, common())) {
          f.addConductor();
          f.addScheduler();
          for (String h : URIS.keySet()) f.addAgent(h, "", true, agentEnv(h));
          LibvirtFaults t = new LibvirtFaults(f);
          for (String name : names()) {
            if (!only.isEmpty() && !only.contains(name)) continue;
            List<Verdict> vs = new ArrayList<>();
            for (int r = 1; r <= runs; r++) {
              Verdict v;
              try {
                v = t.scenario(name, r);
              } catch (Exception | AssertionError e) {
                v =
                    new Verdict(name, false, 1, 0, 0, "0/1", List.of("run failed: " + e))
                        .with(f.tails());
              }
              FaultHarness.printRun(name, r, v);
              vs.add(v);
            }
            rows.add(new FaultHarness.Row(name, vs));
          }
        }
      }
    } finally {
      try {
        Testbed.run(Duration.ofMinutes(1), "logs", Path.of("target", "testbed-logs").toString());
        if (!keepTestbed) Testbed.run(Duration.ofMinutes(2), "down");
      } finally {
        Testbed.unlock();
      }
    }
    return rows;
  }

  /** What every process of the fleet shares: the cap that makes a copy last ~20 s. */
  private static Map<String, String> common() {
    Map<String, String> m = new HashMap<>();
    m.put(LibvirtOptions.BANDWIDTH.envName(), "10");
    m.put(DefaultOptions.SERVICE_DOWN_TIME.envName(), Integer.toString(SERVICE_DOWN_S));
    m.put(
        LibvirtOptions.LIVE_MIGRATION_INBOUND_ADDRS.envName(), "HostB=10.77.88.2,HostC=10.77.88.3");
    return m;
  }

  /** A compute host's own configuration: its libvirtd, TCG guests, the testbed's shared dir. */
  private static Map<String, String> agentEnv(String host) {
    Map<String, String> m = new HashMap<>();
    m.put(ComputeOptions.HYPERVISOR.envName(), "libvirt");
    m.put(LibvirtOptions.CONNECTION_URI.envName(), URIS.get(host));
    m.put(LibvirtOptions.VIRT_TYPE.envName(), "qemu");
    m.put(DefaultOptions.INSTANCES_PATH.envName(), "/var/lib/libvirt/shared");
    m.put(LibvirtOptions.SHARED_STORAGE_BY_MARKER.envName(), "true");
    return m;
  }

  Verdict scenario(String name, int run) throws Exception {
    boolean source = !name.startsWith("tb-dest-");
    String faulted = source ? "HostB" : "HostC";
    boolean journal = !name.endsWith("-no-journal");
    // Both agents as the scenario needs them before the migration starts.
    for (String h : URIS.keySet()) {
      boolean want = !h.equals(faulted) || journal;
      boolean has = !fleet.agentJournalOff(h);
      if (want != has || !fleet.agents.get(h).process.alive()) fleet.restartAgent(h, want);
    }
    awaitAgentsUp();
    // One guest for every run, booted afresh on HostB each time: a new name per run would be a
    // new instance per run, and the instances of domains removed from the testbed keep their
    // claim on HostC's vCPUs (as a deleted domain does in Nova until the server is deleted).
    String guest = "lmf-tb";
    String out =
        Testbed.run(Duration.ofMinutes(3), "guest", guest, "--host", "hostb", "--rate", "2");
    String uuid = out.substring(out.lastIndexOf('\n') + 1).trim();
    nameOf.put(uuid, guest);
    Scenarios.waitFor(
        guest + " ACTIVE on HostB",
        Duration.ofSeconds(60),
        () -> {
          var r = fleet.anyApi().get("/servers/" + uuid);
          if (r.status() != 200) return false;
          JsonObject s = r.json().getJsonObject("server");
          return "HostB".equals(s.getString("OS-EXT-SRV-ATTR:host"))
              && "ACTIVE".equals(s.getString("status"));
        });
    Scenarios.submit(fleet, 0, uuid, "HostC");
    Scenarios.waitFor(
        "copying",
        Duration.ofSeconds(60),
        () -> {
          var m = fleet.latest(uuid);
          return m != null && m.getLong("memory_processed_bytes", 0L) > 0;
        });
    long ended = inject(name, faulted);
    boolean surely = journal && !name.contains("libvirtd") && !name.contains("link-cut");
    Expect e =
        surely
            ? Expect.completes(uuid, "HostB", "HostC")
            : Expect.eitherWay(uuid, "HostB", "HostC");
    Verdict v =
        Verdict.check(name, cloud(), List.of(e), Duration.ofSeconds(SERVICE_DOWN_S + 60), ended);
    JsonObject m = fleet.latest(uuid);
    System.out.println(
        "[faults] "
            + name
            + " run "
            + run
            + " ended "
            + m.getString("status")
            + (m.getString("reason") == null ? "" : " (" + m.getString("reason") + ")")
            + ", guest on "
            + cloud().runsOn(uuid).keySet());
    return v;
  }

  /** Injects the fault and ends it; returns when it ended (System.nanoTime). */
  private long inject(String name, String host) throws Exception {
    String node = host.toLowerCase();
    Fleet.Member agent = fleet.agents.get(host);
    if (name.contains("sigterm")) {
      agent.process.terminate(Duration.ofSeconds(30));
      fleet.startAgent(host);
    } else if (name.contains("agent-kill")) {
      agent.process.kill();
      Scenarios.sleep(2000);
      fleet.startAgent(host);
    } else if (name.contains("libvirtd-restart")) {
      Testbed.run(Duration.ofMinutes(1), "restart-libvirtd", node);
    } else if (name.contains("link-cut")) {
      Testbed.run(Duration.ofSeconds(30), "link", node, "down");
      try {
        Scenarios.sleep(30_000);
      } finally {
        Testbed.run(Duration.ofSeconds(30), "link", node, "up");
      }
    } else {
      throw new IllegalArgumentException(name);
    }
    return System.nanoTime();
  }

  private void awaitAgentsUp() {
    Scenarios.waitFor(
        "both compute services up",
        Duration.ofSeconds(60),
        () -> {
          var l = fleet.anyApi().get("/os-services").json().getJsonArray("services");
          int up = 0;
          for (int i = 0; i < l.size(); i++) {
            JsonObject s = l.getJsonObject(i);
            if (URIS.containsKey(s.getString("host")) && "up".equals(s.getString("state"))) up++;
          }
          return up == URIS.size();
        });
  }

  /** The fleet's API, and libvirt's own word on where each guest runs. */
  private Cloud cloud() {
    return new Cloud() {
      @Override
      public JsonObject latest(String instanceUuid) {
        return fleet.latest(instanceUuid);
      }

      @Override
      public JsonObject server(String instanceUuid) {
        return fleet.server(instanceUuid);
      }

      @Override
      public Map<String, String> runsOn(String instanceUuid) {
        Map<String, String> out = new TreeMap<>();
        try {
          String w = Testbed.run(Duration.ofSeconds(30), "where", nameOf.get(instanceUuid));
          for (String node : w.isEmpty() ? new String[0] : w.split("\n")) {
            out.put("Host" + node.substring(4, 5).toUpperCase(), "running");
          }
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        return out;
      }

      @Override
      public Path logDir() {
        return fleet.logDir();
      }
    };
  }
}
