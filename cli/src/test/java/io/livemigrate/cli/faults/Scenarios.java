package io.livemigrate.cli.faults;

import io.livemigrate.cli.Http;
import io.livemigrate.cli.faults.Verdict.Expect;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.LibvirtOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * The faults the conductor issue asks for, each against a fleet of separate processes on the real
 * RabbitMQ and a PostgreSQL of the harness's own: kill -9 of one of two conductors under 200
 * migrations, a PostgreSQL restart, kill -9 of the scheduler, SIGTERM of the whole control plane.
 * (The all-in-one restart is {@link AllInOneRestart}.) Each run builds its fleet, injects the fault
 * mid-migration, and returns the {@link Verdict}.
 */
final class Scenarios {
  private final String brokerUrl;
  private final PrivatePostgres pg;
  private final Path work;

  Scenarios(String brokerUrl, PrivatePostgres pg, Path work) {
    this.brokerUrl = brokerUrl;
    this.pg = pg;
    this.work = work;
  }

  /** A fresh database on the private server for one run. */
  String database() throws Exception {
    String name = "lmf_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    try (Connection c = DriverManager.getConnection(pg.url(), "postgres", null);
        Statement st = c.createStatement()) {
      st.execute("CREATE DATABASE " + name);
    }
    return pg.url().replace("/postgres", "/" + name);
  }

  Fleet fleet(String scenario, int run, Map<String, String> extra) throws Exception {
    return new Fleet(work.resolve(scenario + "-" + run), brokerUrl, database(), "postgres", extra);
  }

  /** One simulated guest, as {@code [simulated] guests} lists it. */
  static String guest(String name, String uuid, long memoryMb, long dirtyMibps, long wsMib) {
    return name
        + ":uuid="
        + uuid
        + ",vcpus=1,memory_mb="
        + memoryMb
        + ",disk_gb=1,project=p1,user=u1,flavor=m1.small,dirty_rate_mibps="
        + dirtyMibps
        + ",working_set_mib="
        + wsMib;
  }

  static String uuid(String host, int n) {
    return UUID.nameUUIDFromBytes((host + "/" + n).getBytes()).toString();
  }

  static Map<String, String> agentLink(long mibps) {
    return Map.of(
        "LIVEMIGRATE_SIMULATED__LINK_BANDWIDTH_MIBPS",
        Long.toString(mibps),
        "LIVEMIGRATE_SIMULATED__TICK_MS",
        "50",
        "LIVEMIGRATE_SIMULATED__MEMORY_MB",
        "262144",
        "LIVEMIGRATE_SIMULATED__VCPUS",
        "256",
        DefaultOptions.MAX_CONCURRENT_LIVE_MIGRATIONS.envName(),
        "0");
  }

  /** Submits a migration, retrying on another conductor while one is gone; 409 = taken. */
  static void submit(Fleet f, int conductor, String uuid, String host) {
    for (int attempt = 0; attempt < 40; attempt++) {
      try {
        Http api = attempt == 0 ? f.api(conductor) : f.anyApi();
        Http.Response r = f.migrate(api, uuid, host);
        if (r.status() == 202 || r.status() == 409) return;
        throw new IllegalStateException("migrate " + uuid + ": " + r.status() + " " + r.body());
      } catch (IllegalStateException e) {
        if (e.getMessage() != null && e.getMessage().startsWith("migrate ")) throw e;
        sleep(250);
      }
    }
    throw new IllegalStateException("no conductor took the migration of " + uuid);
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static void waitFor(String what, Duration within, Supplier<Boolean> cond) {
    Http.until(what, within, cond);
  }

  // ------------------------------------------------------------------ two conductors, kill -9

  /**
   * Two conductors on one PostgreSQL, {@code count} migrations submitted through both APIs (half
   * named, half by the scheduler) plus four that cannot converge and hit their completion deadline;
   * conductor 1 is killed with SIGKILL half-way. Every migration must end correctly, each deadline
   * fire once within 1 s of its stored time, and no effect happen twice (notifications and commands
   * counted by distinct id on a tap).
   */
  Verdict twoConductorsOneKilled(int run, int count) throws Exception {
    String[] hosts = {"HostA", "HostB", "HostC", "HostD"};
    Map<String, String> conductors = new HashMap<>();
    // 3 s per GiB, the hogs count as 2 GiB: their deadline is 6 s after they start copying.
    conductors.put(LibvirtOptions.COMPLETION_TIMEOUT.envName(), "3");
    try (Fleet f = fleet("two-conductors", run, conductors)) {
      f.addConductor();
      f.addConductor();
      f.addScheduler();
      int perHost = count / 2;
      Map<String, List<String>> guests = new HashMap<>();
      for (String h : hosts) guests.put(h, new ArrayList<>());
      List<Expect> expected = new ArrayList<>();
      List<String[]> plan = new ArrayList<>();
      for (int n = 0; n < count; n++) {
        String src = hosts[n % 2];
        String dst = n % 4 < 2 ? hosts[2 + n % 2] : null;
        String u = uuid(src, n);
        guests.get(src).add(guest("vm" + n, u, 256, 0, 64));
        plan.add(new String[] {u, src, dst});
      }
      List<String> hogs = new ArrayList<>();
      for (int n = 0; n < 4; n++) {
        String src = hosts[n % 2];
        String u = uuid(src, 10_000 + n);
        guests.get(src).add(guest("hog" + n, u, 1024, 4096, 512));
        hogs.add(u);
        expected.add(Expect.fails(u, src, hosts[2 + n % 2]));
      }
      for (String h : hosts) {
        f.addAgent(h, String.join(";", guests.get(h)), true, agentLink(2048));
      }
      Tap tap =
          new Tap(
              brokerUrl,
              f.namespace,
              List.of(
                  f.namespace + ".compute.HostA",
                  f.namespace + ".compute.HostB",
                  f.namespace + ".compute.HostC",
                  f.namespace + ".compute.HostD"));
      try (tap) {
        waitFor(
            "every guest known to the API",
            Duration.ofSeconds(60),
            () ->
                f.anyApi().get("/servers").json().getJsonArray("servers").size()
                    >= count + hogs.size());
        for (int n = 0; n < hogs.size(); n++) submit(f, n % 2, hogs.get(n), hosts[2 + n % 2]);
        for (int n = 0; n < plan.size(); n++) {
          String[] p = plan.get(n);
          if (n == plan.size() / 2) f.conductors.get(0).process.kill();
          submit(f, n % 2 == 0 && n < plan.size() / 2 ? 0 : 1, p[0], p[2]);
          expected.add(
              p[2] == null
                  ? new Expect(p[0], p[1], null, java.util.Set.of("completed"))
                  : Expect.completes(p[0], p[1], p[2]));
        }
        long faultEnded = System.nanoTime();
        // Scheduler-chosen destinations are read back from the API for the check.
        List<Expect> resolved = new ArrayList<>();
        Verdict v = waitAndResolve(f, expected, resolved, faultEnded);
        for (String h : hogs) v = checkDeadline(f, h, v);
        for (Expect e : resolved) v = checkOnce(f, tap, e, v);
        return v;
      } catch (Exception | AssertionError e) {
        throw new IllegalStateException(e + "\n" + f.tails(), e);
      }
    }
  }

  /** Waits for every migration, resolving the destination the scheduler chose. */
  private static Verdict waitAndResolve(
      Fleet f, List<Expect> expected, List<Expect> resolved, long faultEnded) throws Exception {
    Http.until(
        "every migration terminal",
        Duration.ofSeconds(180),
        () -> {
          for (Expect e : expected) {
            JsonObject m = f.latest(e.instanceUuid());
            if (m == null || !Verdict.FINAL.contains(m.getString("status"))) return false;
          }
          return true;
        });
    for (Expect e : expected) {
      String dest =
          e.dest() != null ? e.dest() : f.latest(e.instanceUuid()).getString("dest_compute");
      resolved.add(new Expect(e.instanceUuid(), e.source(), dest, e.outcomes()));
    }
    return Verdict.check(
        "two conductors, one killed", f, resolved, Duration.ofSeconds(10), faultEnded);
  }

  /** The completion deadline fired once, within 1 s of the time stored when the copy started. */
  private static Verdict checkDeadline(Fleet f, String uuid, Verdict v) {
    JsonObject m = f.latest(uuid);
    if (!"COMPLETION_TIMEOUT".equals(m.getString("reason"))) {
      return v.with(uuid + ": ended " + m.getString("reason") + ", not COMPLETION_TIMEOUT");
    }
    List<String> actions = m.getJsonArray("actions").stream().map(Object::toString).toList();
    // Armed when the source first reported the copy running (the action says when).
    List<String> armed = actions.stream().filter(a -> a.contains(" transfer running on ")).toList();
    if (armed.size() != 1)
      return v.with(uuid + ": copy reported running " + armed.size() + " times");
    long due = at(armed.get(0)) + 6_000;
    List<String> fired =
        actions.stream().filter(a -> a.contains("abort (COMPLETION_TIMEOUT)")).toList();
    if (fired.size() != 1) return v.with(uuid + ": the deadline acted " + fired.size() + " times");
    long at = at(fired.get(0));
    if (Math.abs(at - due) > 1000) {
      return v.with(uuid + ": deadline fired " + (at - due) + " ms from its stored time");
    }
    return v;
  }

  /** The time of one of a migration's actions ("<instant> <what>"). */
  private static long at(String action) {
    return Instant.parse(action.substring(0, action.indexOf(' '))).toEpochMilli();
  }

  /** No effect twice: one of each notification and command of the migration's steps. */
  private static Verdict checkOnce(Fleet f, Tap tap, Expect e, Verdict v) {
    JsonObject m = f.latest(e.instanceUuid());
    if (!"completed".equals(m.getString("status"))) return v;
    String mid = m.getString("uuid");
    for (String type :
        List.of(
            "migration.accepted",
            "instance.live_migration_pre.start",
            "instance.live_migration_pre.end",
            "instance.live_migration_post.end",
            "migration.completed")) {
      int n = tap.notifications(mid, type);
      if (n != 1) v = v.with(e.instanceUuid() + ": " + n + " distinct " + type);
    }
    for (String type : List.of("start_migration", "post_at_destination", "cleanup_source")) {
      int n = tap.commands(mid, type);
      if (n != 1) v = v.with(e.instanceUuid() + ": " + n + " distinct " + type + " commands");
    }
    return v;
  }

  // ------------------------------------------------------------------ PostgreSQL restart

  /**
   * One conductor; migrations copying when PostgreSQL is killed (immediate shutdown) and started
   * again 5 s later. /health must say DOWN with the reason meanwhile, and every migration complete.
   */
  Verdict postgresRestart(int run) throws Exception {
    try (Fleet f = fleet("postgres-restart", run, Map.of())) {
      Fleet.Member c = f.addConductor();
      f.addScheduler();
      List<String> g = new ArrayList<>();
      List<Expect> expected = new ArrayList<>();
      for (int n = 0; n < 6; n++) {
        String u = uuid("pg", n);
        g.add(guest("vm" + n, u, 1024, 0, 64));
        expected.add(Expect.completes(u, "HostA", "HostB"));
      }
      f.addAgent("HostA", String.join(";", g), true, agentLink(96));
      f.addAgent("HostB", "", true, agentLink(96));
      waitFor(
          "guests known",
          Duration.ofSeconds(60),
          () -> f.anyApi().get("/servers").json().getJsonArray("servers").size() >= 6);
      for (Expect e : expected) submit(f, 0, e.instanceUuid(), "HostB");
      waitFor(
          "copying",
          Duration.ofSeconds(30),
          () -> "running".equals(f.latest(expected.get(0).instanceUuid()).getString("status")));
      boolean[] sawDown = {false};
      // A flag, not an interrupt: the HTTP call in the loop may swallow the interrupt (it did, and
      // the sweep waited for this thread for good).
      java.util.concurrent.atomic.AtomicBoolean stop =
          new java.util.concurrent.atomic.AtomicBoolean();
      Thread watcher =
          new Thread(
              () -> {
                while (!stop.get()) {
                  JsonObject h = Fleet.health(c);
                  if ("DOWN".equals(h.getJsonObject("store", new JsonObject()).getString("status"))
                      && h.getJsonObject("store").getString("reason") != null) {
                    sawDown[0] = true;
                  }
                  sleep(200);
                }
              });
      watcher.start();
      pg.restart(5000);
      long faultEnded = System.nanoTime();
      Verdict v;
      try {
        v = Verdict.check("PostgreSQL restarted", f, expected, Duration.ofSeconds(120), faultEnded);
      } finally {
        stop.set(true);
        watcher.join();
      }
      if (!sawDown[0]) v = v.with("/health never said the store was DOWN");
      JsonObject after = Fleet.health(c);
      if (!"UP".equals(after.getString("status"))) v = v.with("/health after: " + after);
      return v;
    }
  }

  // ------------------------------------------------------------------ scheduler kill -9

  /**
   * One outbound migration at a time per source (Nova's default), so most wait queued; the
   * scheduler is killed with SIGKILL while some copy and started again 2 s later. All must
   * complete, and no source ever ran two at once.
   */
  Verdict schedulerKilled(int run) throws Exception {
    try (Fleet f = fleet("scheduler-killed", run, Map.of())) {
      f.addConductor();
      f.addScheduler();
      List<String> g = new ArrayList<>();
      List<Expect> expected = new ArrayList<>();
      for (int n = 0; n < 6; n++) {
        String u = uuid("sched", n);
        g.add(guest("vm" + n, u, 512, 0, 64));
        expected.add(Expect.completes(u, "HostA", "HostB"));
      }
      Map<String, String> one = new HashMap<>(agentLink(128));
      one.put(DefaultOptions.MAX_CONCURRENT_LIVE_MIGRATIONS.envName(), "1");
      f.addAgent("HostA", String.join(";", g), true, one);
      f.addAgent("HostB", "", true, one);
      waitFor(
          "guests known",
          Duration.ofSeconds(60),
          () -> f.anyApi().get("/servers").json().getJsonArray("servers").size() >= 6);
      for (Expect e : expected) submit(f, 0, e.instanceUuid(), "HostB");
      waitFor(
          "one copying",
          Duration.ofSeconds(30),
          () ->
              expected.stream()
                  .anyMatch(e -> "running".equals(f.latest(e.instanceUuid()).getString("status"))));
      f.scheduler.process.kill();
      sleep(2000);
      f.startScheduler();
      long faultEnded = System.nanoTime();
      Verdict v =
          Verdict.check("scheduler killed", f, expected, Duration.ofSeconds(120), faultEnded);
      return overlapping(f, expected, v);
    }
  }

  /** No two migrations of one source copied at the same time (its limit is one). */
  private static Verdict overlapping(Fleet f, List<Expect> expected, Verdict v) {
    List<long[]> spans = new ArrayList<>();
    for (Expect e : expected) {
      JsonObject p = f.latest(e.instanceUuid()).getJsonObject("phases");
      spans.add(new long[] {p.getLong("running_ms"), p.getLong("finished_ms")});
    }
    for (int i = 0; i < spans.size(); i++) {
      for (int j = i + 1; j < spans.size(); j++) {
        long[] a = spans.get(i);
        long[] b = spans.get(j);
        if (a[0] > 0 && b[0] > 0 && a[0] < b[1] && b[0] < a[1]) {
          return v.with("two migrations from HostA copied at once: " + i + " and " + j);
        }
      }
    }
    return v;
  }

  // ------------------------------------------------------------------ control plane SIGTERM

  /**
   * Two conductors and the scheduler stopped with SIGTERM (as systemd stops them) while migrations
   * copy, and started again 2 s later; the agents keep running. All must complete.
   */
  Verdict controlPlaneRestart(int run) throws Exception {
    try (Fleet f = fleet("control-plane-restart", run, Map.of())) {
      f.addConductor();
      f.addConductor();
      f.addScheduler();
      List<String> g = new ArrayList<>();
      List<Expect> expected = new ArrayList<>();
      for (int n = 0; n < 6; n++) {
        String u = uuid("cp", n);
        g.add(guest("vm" + n, u, 768, 0, 64));
        expected.add(Expect.completes(u, "HostA", "HostB"));
      }
      f.addAgent("HostA", String.join(";", g), true, agentLink(96));
      f.addAgent("HostB", "", true, agentLink(96));
      waitFor(
          "guests known",
          Duration.ofSeconds(60),
          () -> f.anyApi().get("/servers").json().getJsonArray("servers").size() >= 6);
      for (int n = 0; n < expected.size(); n++)
        submit(f, n % 2, expected.get(n).instanceUuid(), "HostB");
      waitFor(
          "copying",
          Duration.ofSeconds(30),
          () -> "running".equals(f.latest(expected.get(0).instanceUuid()).getString("status")));
      for (Fleet.Member m : f.conductors) m.process.terminate(Duration.ofSeconds(20));
      f.scheduler.process.terminate(Duration.ofSeconds(20));
      sleep(2000);
      for (Fleet.Member m : f.conductors) f.startConductor(m);
      f.startScheduler();
      long faultEnded = System.nanoTime();
      return Verdict.check(
          "control plane SIGTERM and start", f, expected, Duration.ofSeconds(120), faultEnded);
    }
  }
}
