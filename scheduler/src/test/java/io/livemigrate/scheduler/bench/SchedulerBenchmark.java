package io.livemigrate.scheduler.bench;

import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.InstanceReport;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.common.contract.SchedulerMessages.ServiceStatus;
import io.livemigrate.scheduler.impl.HostScheduler;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.UUID;

/**
 * Scheduler decision time over simulated fleets: one select_destinations (filter, weigh, claim) per
 * sample, over 1,000 and 10,000 hosts with all weighers on. Prints percentiles; not a test.
 *
 * <p>Run: {@code mvn -B -q -pl scheduler -am test-compile exec:java
 * -Dexec.mainClass=io.livemigrate.scheduler.bench.SchedulerBenchmark -Dexec.classpathScope=test}
 */
public final class SchedulerBenchmark {
  private SchedulerBenchmark() {}

  public static void main(String[] args) {
    int samples = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    System.out.printf("scheduler decision latency, %d samples per fleet%n", samples);
    for (int hosts : new int[] {1_000, 10_000}) run(hosts, samples);
  }

  private static void run(int hostCount, int samples) {
    Random rnd = new Random(42);
    long now = System.currentTimeMillis();
    HostScheduler s = new HostScheduler(60_000, 0, new HostScheduler.Weights(1, 1, 1));
    for (int h = 0; h < hostCount; h++) {
      List<InstanceReport> vms = new ArrayList<>();
      int n = rnd.nextInt(20);
      for (int i = 0; i < n; i++) {
        vms.add(
            new InstanceReport(
                UUID.randomUUID().toString(),
                "vm",
                "running",
                1 + rnd.nextInt(4),
                1_024L * (1 + rnd.nextInt(8)),
                20,
                "p" + rnd.nextInt(10),
                "u",
                "m1.small"));
      }
      s.onReport(
          new HostReport(
              "host-" + h,
              "zone-" + (h % 3 == 0 ? 1 : 0),
              "QEMU",
              8_002_000,
              32,
              131_072 + 65_536L * rnd.nextInt(4),
              2_000,
              false,
              false,
              vms,
              4.0,
              1.0,
              1.0,
              "Skylake",
              2,
              4),
          now);
      if (rnd.nextInt(20) == 0) s.onStatus(new ServiceStatus("host-" + h, true, "maint", false));
    }
    long[] t = new long[samples];
    // CPU time of this thread too: on a busy 2-core machine wall-clock percentiles include time
    // the thread spent preempted, which says more about the neighbours than about the scheduler.
    long[] cpu = new long[samples];
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    int selected = 0;
    for (int round = 0; round < 2; round++) { // round 0 warms the JIT up
      for (int i = 0; i < samples; i++) {
        String uuid = UUID.randomUUID().toString();
        SelectDestinations req =
            new SelectDestinations(
                uuid, "host-" + rnd.nextInt(hostCount), null, 2, 4_096, 40, List.of());
        long c0 = mx.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        Destinations d = s.select(req, now);
        t[i] = System.nanoTime() - t0;
        cpu[i] = mx.getCurrentThreadCpuTime() - c0;
        if (!d.hosts().isEmpty()) selected++;
        s.release(uuid, "failed", now); // keep the fleet's load steady
      }
    }
    Arrays.sort(t);
    Arrays.sort(cpu);
    System.out.printf(
        "%6d hosts: wall p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms | cpu p50 %.3f ms  p99"
            + " %.3f ms  (%d of %d found a host)%n",
        hostCount,
        ms(t[samples / 2]),
        ms(t[(int) (samples * 0.9)]),
        ms(t[(int) (samples * 0.99)]),
        ms(t[samples - 1]),
        ms(cpu[samples / 2]),
        ms(cpu[(int) (samples * 0.99)]),
        selected / 2,
        samples);
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }
}
