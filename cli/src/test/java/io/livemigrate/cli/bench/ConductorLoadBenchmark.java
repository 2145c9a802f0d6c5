package io.livemigrate.cli.bench;

import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.app.ComputeAgentVerticle;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.agent.sim.SimulatedHypervisor;
import io.livemigrate.cli.bench.TimedHypervisor.Sample;
import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.OpsOptions;
import io.livemigrate.common.config.SimulatedOptions;
import io.livemigrate.common.contract.Sender;
import io.livemigrate.scheduler.app.SchedulerVerticle;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The load driver of {@code bench/conductor-load.sh}: the scheduler and simulated compute hosts in
 * this JVM, against one conductor (with its API) running in another JVM. Starts N live migrations
 * through the API, waits until they all run, then measures the conductor over a window: CPU from
 * {@code /proc/<pid>/stat}, heap from its {@code /metrics}, and how long a progress sample takes
 * from the agent to the API. Prints figures; not a test.
 *
 * <p>Every guest is 2 GiB on a 1 MiB/s simulated link, so each migration runs for about 34 minutes,
 * far beyond the window, and reports progress every second ([compute] progress_interval_ms).
 *
 * <p>Configured through the environment the script sets: LM_CONFIG (the nova.conf-style file also
 * given to the conductor), LM_API, LM_TOKEN, LM_METRICS, LM_PID, N, HOSTS, QUIET, WINDOW, POLL_MS,
 * SAMPLE.
 */
public final class ConductorLoadBenchmark {
  private static final long MIB = SimDomain.MIB;
  private static final HttpClient HTTP =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .executor(Executors.newFixedThreadPool(4))
          .build();

  private final String api;
  private final String token;
  private final String metricsUrl;
  private final long pid;
  private final int n;
  private final int hosts;
  private final int quietS;
  private final int windowS;
  private final int pollMs;
  private final int sampleSize;
  private final Config base;

  private final Set<String> watched = ConcurrentHashMap.newKeySet();
  private final Map<String, ConcurrentLinkedDeque<Sample>> samples = TimedHypervisor.newSampleMap();
  private final LongAdder snapshots = new LongAdder();
  private final Map<String, SimulatedHypervisor> hypervisors = new LinkedHashMap<>();
  private final List<String> guests = new ArrayList<>();
  private Vertx vertx;
  private ScheduledExecutorService simClock;
  private final io.livemigrate.agent.sim.SimFabric fabric =
      io.livemigrate.agent.sim.SimFabric.inMemory();
  private final List<String> deployments = new ArrayList<>();

  private ConductorLoadBenchmark() {
    api = env("LM_API", null);
    token = env("LM_TOKEN", null);
    metricsUrl = env("LM_METRICS", null);
    pid = Long.parseLong(env("LM_PID", null));
    n = Integer.parseInt(env("N", "1000"));
    hosts = Integer.parseInt(env("HOSTS", "20"));
    quietS = Integer.parseInt(env("QUIET", "30"));
    windowS = Integer.parseInt(env("WINDOW", "60"));
    pollMs = Integer.parseInt(env("POLL_MS", "100"));
    sampleSize = Integer.parseInt(env("SAMPLE", "20"));
    // The same file as the conductor's, with this process's own ports.
    base =
        Config.load(
            Path.of(env("LM_CONFIG", null)), Map.of(), Map.of(OpsOptions.OPS_PORT.key(), "0"));
  }

  private static String env(String name, String def) {
    String v = System.getenv(name);
    if (v == null || v.isBlank()) {
      if (def == null) throw new IllegalArgumentException("environment variable " + name);
      return def;
    }
    return v;
  }

  public static void main(String[] args) throws Exception {
    ConductorLoadBenchmark b = new ConductorLoadBenchmark();
    int rc = 0;
    try {
      b.run();
    } catch (Exception e) {
      e.printStackTrace();
      rc = 1;
    } finally {
      b.stop();
    }
    System.exit(rc);
  }

  // ------------------------------------------------------------------ the fleet

  private void startFleet() throws Exception {
    vertx = Vertx.vertx();
    simClock =
        Executors.newScheduledThreadPool(
            1,
            r -> {
              Thread t = new Thread(r, "sim-clock");
              t.setDaemon(true);
              return t;
            });
    long linkBps = base.longValue(SimulatedOptions.SIM_LINK_MIBPS) * MIB;
    long tick = base.longValue(SimulatedOptions.SIM_TICK_MS);
    int perHost = (n + hosts - 1) / hosts;
    // Room for the host's own guests and as many arriving: 1 vCPU, 2 GiB, 10 GB each.
    HostResources cap = new HostResources(perHost, 2L * perHost * 2048 + 4096, 20L * perHost + 100);
    int made = 0;
    for (int h = 0; h < hosts; h++) {
      String host = String.format("bench%03d", h);
      SimulatedHypervisor hv =
          new SimulatedHypervisor(host, cap, linkBps, tick, simClock).linkTo(fabric);
      for (int i = 0; i < perHost && made < n; i++, made++) {
        String uuid = UUID.randomUUID().toString();
        hv.define(
            new SimDomain(
                uuid,
                "vm" + made,
                1,
                2048,
                10,
                "p1",
                "u1",
                "m1.small",
                0, // dirties nothing: pre-copy at 1 MiB/s for 2,048 s
                0,
                false));
        guests.add(uuid);
      }
      hypervisors.put(host, hv);
    }
    // Watch a sample spread over the hosts.
    int step = Math.max(1, guests.size() / Math.max(1, sampleSize));
    for (int i = 0; i < guests.size() && watched.size() < sampleSize; i += step) {
      watched.add(guests.get(i));
    }
    deploy(new SchedulerVerticle(base.with(Map.of(DefaultOptions.HOST.key(), "controller"))));
    Path state = Files.createTempDirectory("lm-bench-state");
    for (var e : hypervisors.entrySet()) {
      deploy(
          new ComputeAgentVerticle(
              base.with(
                  Map.of(
                      DefaultOptions.HOST.key(),
                      e.getKey(),
                      // Each agent its own journal, as on its own host.
                      ComputeOptions.STATE_DIR.key(),
                      state.resolve(e.getKey()).toString())),
              new TimedHypervisor(e.getValue(), watched, samples, snapshots)));
    }
    System.out.printf(
        "fleet: %d simulated hosts, %d guests of 2 GiB on a %d MiB/s link, progress every %d ms%n",
        hosts,
        guests.size(),
        base.longValue(SimulatedOptions.SIM_LINK_MIBPS),
        base.integer(ComputeOptions.PROGRESS_INTERVAL_MS));
  }

  private void deploy(io.vertx.core.Deployable v) throws Exception {
    deployments.add(vertx.deployVerticle(v).await(60, TimeUnit.SECONDS));
  }

  private void stop() {
    try {
      // The conductor first, so it does not declare its queue again after we delete it.
      ProcessHandle.of(pid)
          .ifPresent(
              p -> {
                p.destroy();
                try {
                  p.onExit().get(20, TimeUnit.SECONDS);
                } catch (Exception e) {
                  p.destroyForcibly();
                }
              });
      if (vertx != null) {
        for (String id : deployments) {
          try {
            vertx.undeploy(id).await(20, TimeUnit.SECONDS);
          } catch (Exception e) {
            // go on: the topology is still to be removed
          }
        }
        hypervisors.values().forEach(SimulatedHypervisor::close);
        List<String> queues = new ArrayList<>();
        BusSettings s = BusSettings.from(base);
        Promise<Bus> p = Promise.promise();
        vertx.runOnContext(
            v ->
                Bus.connect(vertx, s, new Sender("bench", "cleaner"), new SimpleMeterRegistry())
                    .onComplete(p));
        Bus cleaner = p.future().await(30, TimeUnit.SECONDS);
        queues.add(cleaner.topology().conductorQueue());
        queues.add(cleaner.topology().schedulerQueue());
        for (String h : hypervisors.keySet()) queues.add(cleaner.topology().computeQueue(h));
        Promise<Void> d = Promise.promise();
        vertx.runOnContext(
            v -> cleaner.deleteTopology(queues).compose(x -> cleaner.close()).onComplete(d));
        d.future().await(60, TimeUnit.SECONDS);
        System.out.printf(
            "cleanup: deleted %d queues and the exchanges of namespace %s%n",
            queues.size() + 1, cleaner.topology().namespace());
        vertx.close().await(20, TimeUnit.SECONDS);
      }
      if (simClock != null) simClock.shutdownNow();
    } catch (Exception e) {
      System.out.println("cleanup incomplete: " + e);
    }
  }

  // ------------------------------------------------------------------ HTTP

  private HttpRequest.Builder req(String path) {
    return HttpRequest.newBuilder(URI.create(api + path))
        .timeout(Duration.ofSeconds(30))
        .header("X-Auth-Token", token)
        .header("X-OpenStack-Nova-API-Version", "2.30");
  }

  private JsonObject getJson(String path) throws Exception {
    HttpResponse<String> r =
        HTTP.send(req(path).GET().build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) throw new IllegalStateException(path + ": " + r.statusCode());
    return new JsonObject(r.body());
  }

  private Map<String, Integer> migrationStatuses() throws Exception {
    JsonArray l = getJson("/os-migrations").getJsonArray("migrations");
    Map<String, Integer> by = new TreeMap<>();
    for (int i = 0; i < l.size(); i++)
      by.merge(l.getJsonObject(i).getString("status"), 1, Integer::sum);
    return by;
  }

  // ------------------------------------------------------------------ the run

  private void run() throws Exception {
    startFleet();
    long t0 = System.currentTimeMillis();
    // Live-migrate every guest, 32 requests at a time; a guest not reported yet gets 404: again.
    Semaphore inFlight = new Semaphore(32);
    AtomicInteger accepted = new AtomicInteger();
    Map<Integer, Integer> rejected = new ConcurrentHashMap<>();
    List<CompletableFuture<Void>> all = new ArrayList<>();
    String body = "{\"os-migrateLive\":{\"host\":null,\"block_migration\":false}}";
    for (String uuid : guests) {
      all.add(
          submit(uuid, body, inFlight, accepted, rejected, System.currentTimeMillis() + 120_000));
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);
    long postsDone = System.currentTimeMillis();
    System.out.printf(
        "POSTs: %d accepted (202) in %.1f s; retried statuses: %s%n",
        accepted.get(), (postsDone - t0) / 1000.0, rejected);

    // Until (nearly) all run: a running migration has reported its first progress.
    Map<String, Integer> st = Map.of();
    long rampDeadline = System.currentTimeMillis() + 600_000;
    int running = 0;
    int stable = 0;
    int last = -1;
    while (System.currentTimeMillis() < rampDeadline) {
      st = migrationStatuses();
      running = st.getOrDefault("running", 0);
      if (running >= accepted.get()) break;
      stable = running == last ? stable + 1 : 0;
      last = running;
      if (stable >= 15) break; // 30 s without change: measure what there is
      Thread.sleep(2000);
    }
    long rampDone = System.currentTimeMillis();
    System.out.printf(
        "ramp: %d running %.1f s after the first POST (statuses %s)%n",
        running, (rampDone - t0) / 1000.0, st);

    // Let the start-up garbage go before measuring.
    Thread.sleep(5000);

    // Phase 1: no API reader, only the agents' progress (and reports) into the conductor.
    System.out.printf("phase 1: %d s, nobody reads the API%n", quietS);
    List<double[]> quiet = measure(quietS, false);
    // Phase 2: the same, while the poller reads the sampled migrations.
    System.out.printf(
        "phase 2: %d s, polling %d migrations every %d ms (GET /os-migrations?instance_uuid=)%n",
        windowS, watched.size(), pollMs);
    PollResult poll = new PollResult();
    List<double[]> busy = measure(windowS, true, poll);
    Map<String, Integer> stEnd = migrationStatuses();

    // Heap: what survives a full GC, then the most used seen.
    double heapMax = heapMaxBytes();
    runJcmd("GC.run");
    Thread.sleep(1000);
    double liveHeap = heapUsedBytes();
    String heapInfo = runJcmd("GC.heap_info");

    printSummary(accepted.get(), running, stEnd, quiet, busy, poll, heapMax, liveHeap, heapInfo);
  }

  private CompletableFuture<Void> submit(
      String uuid,
      String body,
      Semaphore inFlight,
      AtomicInteger accepted,
      Map<Integer, Integer> rejected,
      long deadline) {
    try {
      inFlight.acquire();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
    HttpRequest r =
        req("/servers/" + uuid + "/action")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
    return HTTP.sendAsync(r, HttpResponse.BodyHandlers.ofString())
        .handle(
            (resp, err) -> {
              inFlight.release();
              int code = err == null ? resp.statusCode() : -1;
              if (code == 202) {
                accepted.incrementAndGet();
                return CompletableFuture.<Void>completedFuture(null);
              }
              rejected.merge(code, 1, Integer::sum);
              if (System.currentTimeMillis() > deadline) {
                System.out.printf(
                    "POST %s gave up: %s%n", uuid, err == null ? code + " " + resp.body() : err);
                return CompletableFuture.<Void>completedFuture(null);
              }
              return CompletableFuture.runAsync(
                      () -> {}, CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS))
                  .thenCompose(v -> submit(uuid, body, inFlight, accepted, rejected, deadline));
            })
        .thenCompose(f -> f);
  }

  // ------------------------------------------------------------------ measuring

  /** CPU ticks (utime + stime) of the conductor. */
  private long cpuTicks() throws Exception {
    return cpuTicks(pid);
  }

  private static long cpuTicks(long pid) throws Exception {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // After the command: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  private static final Pattern HEAP =
      Pattern.compile(
          "^jvm_memory_used_bytes\\{[^}]*area=\"heap\"[^}]*\\} (\\S+)$", Pattern.MULTILINE);
  private static final Pattern HEAP_MAX =
      Pattern.compile(
          "^jvm_memory_max_bytes\\{[^}]*area=\"heap\"[^}]*\\} (\\S+)$", Pattern.MULTILINE);

  private double sumMetric(Pattern p) throws Exception {
    String text =
        HTTP.send(
                HttpRequest.newBuilder(URI.create(metricsUrl))
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    Matcher m = p.matcher(text);
    double sum = 0;
    while (m.find()) {
      double v = Double.parseDouble(m.group(1));
      if (v > 0) sum += v;
    }
    return sum;
  }

  private double heapUsedBytes() throws Exception {
    return sumMetric(HEAP);
  }

  private double heapMaxBytes() throws Exception {
    return sumMetric(HEAP_MAX);
  }

  private String runJcmd(String cmd) {
    try {
      Process p =
          new ProcessBuilder(
                  Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                  Long.toString(pid),
                  cmd)
              .redirectErrorStream(true)
              .start();
      String out = new String(p.getInputStream().readAllBytes());
      p.waitFor(30, TimeUnit.SECONDS);
      return out;
    } catch (Exception e) {
      return "jcmd failed: " + e;
    }
  }

  private double peakHeap;

  private List<double[]> measure(int seconds, boolean polling) throws Exception {
    return measure(seconds, polling, null);
  }

  /** 5 s slices: {cores, heap used bytes, progress snapshots per second}. */
  private List<double[]> measure(int seconds, boolean polling, PollResult poll) throws Exception {
    Thread poller = null;
    if (polling) {
      poller = new Thread(() -> poll(poll, seconds), "poller");
      poller.setDaemon(true);
      poller.start();
    }
    List<double[]> slices = new ArrayList<>();
    long end = System.nanoTime() + seconds * 1_000_000_000L;
    long ticks = cpuTicks();
    long self = ProcessHandle.current().pid();
    long ownTicks = cpuTicks(self);
    long at = System.nanoTime();
    long snaps = snapshots.sum();
    while (System.nanoTime() < end) {
      Thread.sleep(Math.min(5000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
      long t = cpuTicks();
      long own = cpuTicks(self);
      long now = System.nanoTime();
      long s = snapshots.sum();
      double secs = (now - at) / 1e9;
      double heap = heapUsedBytes();
      peakHeap = Math.max(peakHeap, heap);
      slices.add(
          new double[] {
            (t - ticks) / 100.0 / secs, heap, (s - snaps) / secs, (own - ownTicks) / 100.0 / secs
          });
      System.out.printf(
          "  slice: conductor %.2f cores, heap used %.0f MiB, %.0f progress samples/s;"
              + " driver %.2f cores%n",
          (t - ticks) / 100.0 / secs,
          heap / MIB,
          (s - snaps) / secs,
          (own - ownTicks) / 100.0 / secs);
      ticks = t;
      ownTicks = own;
      at = now;
      snaps = s;
    }
    if (poller != null) poller.join(30_000);
    return slices;
  }

  /** What the poller saw. */
  static final class PollResult {
    final List<Long> upper = Collections.synchronizedList(new ArrayList<>());
    final List<Long> lower = Collections.synchronizedList(new ArrayList<>());
    final LongAdder superseded = new LongAdder();
    final LongAdder polls = new LongAdder();
    final List<Long> responseMs = Collections.synchronizedList(new ArrayList<>());
  }

  /**
   * Polls each watched migration every pollMs. When a new memory_processed_bytes shows, the sample
   * with that value was taken at a known time: it became visible after the previous poll of that
   * migration was sent (lower bound) and before this response arrived (upper bound). Samples older
   * than the shown one that never showed were superseded between two polls.
   */
  private void poll(PollResult r, int seconds) {
    Map<String, Long> lastSent = new HashMap<>();
    Map<String, Long> lastValue = new HashMap<>();
    // Samples taken before the window are not ours to judge.
    long start = System.currentTimeMillis();
    for (String u : watched) {
      var q = samples.get(u);
      if (q != null) q.clear();
    }
    long end = start + seconds * 1000L;
    long next = start;
    while (System.currentTimeMillis() < end) {
      List<CompletableFuture<Void>> round = new ArrayList<>();
      for (String uuid : watched) {
        long sent = System.currentTimeMillis();
        round.add(
            HTTP.sendAsync(
                    req("/os-migrations?instance_uuid=" + uuid).GET().build(),
                    HttpResponse.BodyHandlers.ofString())
                .thenAccept(
                    resp -> {
                      long recv = System.currentTimeMillis();
                      r.polls.increment();
                      r.responseMs.add(recv - sent);
                      if (resp.statusCode() != 200) return;
                      JsonArray l = new JsonObject(resp.body()).getJsonArray("migrations");
                      for (int i = 0; i < l.size(); i++) {
                        JsonObject m = l.getJsonObject(i);
                        if (!"running".equals(m.getString("status"))) continue;
                        long v = m.getLong("memory_processed_bytes", 0L);
                        synchronized (lastValue) {
                          Long prev = lastValue.put(uuid, v);
                          Long prevSent = lastSent.put(uuid, sent);
                          if (prev == null || prev == v || prevSent == null) continue;
                          var q = samples.get(uuid);
                          if (q == null) continue;
                          Sample s;
                          while ((s = q.peekFirst()) != null && s.processed() <= v) {
                            q.pollFirst();
                            if (s.processed() == v) {
                              r.upper.add(recv - s.atMs());
                              r.lower.add(Math.max(0, prevSent - s.atMs()));
                            } else {
                              r.superseded.increment();
                            }
                          }
                        }
                      }
                    }));
      }
      CompletableFuture.allOf(round.toArray(CompletableFuture[]::new)).join();
      next += pollMs;
      long sleep = next - System.currentTimeMillis();
      if (sleep > 0) {
        try {
          Thread.sleep(sleep);
        } catch (InterruptedException e) {
          return;
        }
      } else {
        next = System.currentTimeMillis();
      }
    }
  }

  // ------------------------------------------------------------------ summary

  private static double pct(List<Long> sorted, double p) {
    if (sorted.isEmpty()) return Double.NaN;
    int i = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
  }

  private static double[] meanMax(List<double[]> slices, int col) {
    double sum = 0;
    double max = 0;
    for (double[] s : slices) {
      sum += s[col];
      max = Math.max(max, s[col]);
    }
    return new double[] {slices.isEmpty() ? 0 : sum / slices.size(), max};
  }

  private void printSummary(
      int accepted,
      int running,
      Map<String, Integer> stEnd,
      List<double[]> quiet,
      List<double[]> busy,
      PollResult poll,
      double heapMax,
      double liveHeap,
      String heapInfo) {
    List<Long> up = new ArrayList<>(poll.upper);
    List<Long> lo = new ArrayList<>(poll.lower);
    List<Long> rt = new ArrayList<>(poll.responseMs);
    Collections.sort(up);
    Collections.sort(lo);
    Collections.sort(rt);
    double[] cq = meanMax(quiet, 0);
    double[] cb = meanMax(busy, 0);
    double[] rate = meanMax(busy, 2);
    double[] dq = meanMax(quiet, 3);
    double[] db = meanMax(busy, 3);
    System.out.println();
    System.out.println("===== conductor under load (one conductor JVM, H2 file store) =====");
    System.out.printf(
        "migrations in flight: %d running when measuring (of %d accepted); at the end: %s%n",
        running, accepted, stEnd);
    System.out.printf(
        "progress messages: %.0f/s from the agents (mean over the polled window)%n", rate[0]);
    System.out.printf(
        "conductor CPU, no API reader:  mean %.2f cores, max %.2f (5 s slices)   yardstick <= 1%n",
        cq[0], cq[1]);
    System.out.printf(
        "conductor CPU, while polling:  mean %.2f cores, max %.2f (5 s slices)   yardstick <= 1%n",
        cb[0], cb[1]);
    System.out.printf(
        "driver JVM on the same 2 cores (scheduler, %d agents, poller): mean %.2f cores without"
            + " polling, %.2f while polling%n",
        hypervisors.size(), dq[0], db[0]);
    System.out.printf(
        "conductor heap: max used %.0f MiB during the run (5 s samples), %.0f MiB 1 s after a full"
            + " GC,"
            + " limit %.0f MiB   yardstick <= 512 MiB%n",
        peakHeap / MIB, liveHeap / MIB, heapMax / MIB);
    System.out.printf(
        "progress visible in the API: %d samples of %d migrations; delay from the agent's sample"
            + " to the API showing it:%n",
        up.size(), watched.size());
    System.out.printf(
        "  upper bound (response received): p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms"
            + "   yardstick p99 <= 1000 ms%n",
        pct(up, 50), pct(up, 90), pct(up, 99), pct(up, 100));
    System.out.printf(
        "  lower bound (previous poll sent): p50 %.0f ms  p99 %.0f ms%n", pct(lo, 50), pct(lo, 99));
    System.out.printf(
        "  poll interval %d ms per migration (%d polls, response p50 %.0f ms, p99 %.0f ms);"
            + " %d samples superseded before a poll saw them%n",
        pollMs, poll.polls.sum(), pct(rt, 50), pct(rt, 99), poll.superseded.sum());
    System.out.println("jcmd GC.heap_info after the window:");
    heapInfo.lines().forEach(l -> System.out.println("  " + l));
  }
}
