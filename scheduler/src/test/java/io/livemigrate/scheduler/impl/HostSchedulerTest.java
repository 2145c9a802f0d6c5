package io.livemigrate.scheduler.impl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.InstanceReport;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.common.contract.SchedulerMessages.ServiceStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class HostSchedulerTest {
  private static final long DOWN_MS = 60_000; // service_down_time 60 s
  private static final long T0 = 1_700_000_000_000L;
  private static final String SOURCE = "src";

  /** A host of 16 vCPUs, 64 GiB RAM and 1000 GB disk, with the given instances. */
  private static HostReport host(String name, InstanceReport... instances) {
    return host(name, 16, 65_536, 1_000, instances);
  }

  private static HostReport host(
      String name, int vcpus, long memoryMb, long diskGb, InstanceReport... instances) {
    return new HostReport(
        name, "nova", "QEMU", 8_002_002, vcpus, memoryMb, diskGb, false, false, List.of(instances));
  }

  private static int seq;

  private static InstanceReport vm(int vcpus, long memoryMb, long diskGb) {
    seq++;
    return new InstanceReport(
        "00000000-0000-4000-8000-" + String.format("%012d", seq),
        "vm-" + seq,
        "running",
        vcpus,
        memoryMb,
        diskGb,
        "p",
        "u",
        "m1.custom");
  }

  private static SelectDestinations request(int vcpus, long memoryMb, long diskGb) {
    return new SelectDestinations(
        "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a", SOURCE, null, vcpus, memoryMb, diskGb, List.of());
  }

  private static SelectDestinations request() {
    return request(2, 4_096, 20);
  }

  /** One row of the filter table: a setup of host "h1", a request, and what happens to h1. */
  private record Case(
      String name, Consumer<HostScheduler> setup, SelectDestinations req, long nowMs, String why) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Arguments> filterTable() {
    List<Case> cases = new ArrayList<>();
    cases.add(new Case("fits", s -> s.onReport(host("h1"), T0), request(), T0, null));
    cases.add(
        new Case(
            "source host",
            s -> s.onReport(host(SOURCE), T0),
            request(),
            T0,
            "Unable to migrate instance to the current host (src)."));
    cases.add(
        new Case(
            "in the ignore list",
            s -> s.onReport(host("h1"), T0),
            new SelectDestinations(
                "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a",
                SOURCE,
                null,
                2,
                4_096,
                20,
                List.of("h0", "h1")),
            T0,
            "Host h1 was already tried for this migration."));
    cases.add(
        new Case(
            "heartbeat exactly service_down_time old is still up",
            s -> s.onReport(host("h1"), T0),
            request(),
            T0 + DOWN_MS,
            null));
    cases.add(
        new Case(
            "heartbeat older than service_down_time",
            s -> s.onReport(host("h1"), T0),
            request(),
            T0 + DOWN_MS + 1,
            "Compute service of h1 is down."));
    cases.add(
        new Case(
            "heartbeat keeps a reported host up",
            s -> {
              s.onReport(host("h1"), T0);
              s.onHeartbeat("h1", T0 + 50_000);
            },
            request(),
            T0 + 100_000,
            null));
    cases.add(
        new Case(
            "an older report does not move the heartbeat back",
            s -> {
              s.onHeartbeat("h1", T0 + 50_000);
              s.onReport(host("h1"), T0);
            },
            request(),
            T0 + 100_000,
            null));
    cases.add(
        new Case(
            "disabled",
            s -> {
              s.onReport(host("h1"), T0);
              s.onStatus(new ServiceStatus("h1", true, "maintenance", false));
            },
            request(),
            T0,
            "Compute service of h1 is disabled."));
    cases.add(
        new Case(
            "forced down",
            s -> {
              s.onReport(host("h1"), T0);
              s.onStatus(new ServiceStatus("h1", false, null, true));
            },
            request(),
            T0,
            "Compute service of h1 is down."));
    cases.add(
        new Case(
            "enabled again",
            s -> {
              s.onReport(host("h1"), T0);
              s.onStatus(new ServiceStatus("h1", true, "maintenance", true));
              s.onStatus(new ServiceStatus("h1", false, null, false));
            },
            request(),
            T0,
            null));
    cases.add(
        new Case(
            "status before the first report",
            s -> {
              s.onStatus(new ServiceStatus("h1", true, "maintenance", false));
              s.onReport(host("h1"), T0);
            },
            request(),
            T0,
            "Compute service of h1 is disabled."));
    cases.add(
        new Case(
            "heartbeat but no report",
            s -> s.onHeartbeat("h1", T0),
            request(),
            T0,
            "Compute host h1 has not reported its resources yet."));
    cases.add(
        new Case(
            "insufficient RAM",
            s -> s.onReport(host("h1", 16, 8_192, 1_000, vm(1, 4_096, 10)), T0),
            request(2, 6_000, 20),
            T0,
            "Insufficient RAM on h1: 6000 MB needed, 4096 MB free."));
    cases.add(
        new Case(
            "exactly the free RAM fits",
            s -> s.onReport(host("h1", 16, 8_192, 1_000, vm(1, 4_096, 10)), T0),
            request(2, 4_096, 20),
            T0,
            null));
    cases.add(
        new Case(
            "overcommitted RAM reports 0 MB free",
            s -> s.onReport(host("h1", 16, 8_192, 1_000, vm(1, 10_000, 10)), T0),
            request(2, 1, 20),
            T0,
            "Insufficient RAM on h1: 1 MB needed, 0 MB free."));
    cases.add(
        new Case(
            "insufficient disk",
            s -> s.onReport(host("h1", 16, 65_536, 100, vm(1, 1_024, 90)), T0),
            request(2, 1_024, 20),
            T0,
            "Insufficient disk on h1: 20 GB needed, 10 GB free."));
    cases.add(
        new Case(
            "16 vCPUs take 64 (ratio 4.0)",
            s -> s.onReport(host("h1", 16, 65_536, 1_000), T0),
            request(64, 1_024, 10),
            T0,
            null));
    cases.add(
        new Case(
            "16 vCPUs do not take 65",
            s -> s.onReport(host("h1", 16, 65_536, 1_000), T0),
            request(65, 1_024, 10),
            T0,
            "Insufficient vCPUs on h1: 65 needed, 64 free."));
    cases.add(
        new Case(
            "insufficient vCPUs with 60 in use",
            s -> s.onReport(host("h1", 16, 65_536, 1_000, vm(60, 1_024, 10)), T0),
            request(5, 1_024, 10),
            T0,
            "Insufficient vCPUs on h1: 5 needed, 4 free."));
    cases.add(
        new Case(
            "a new report replaces the used resources",
            s -> {
              s.onReport(host("h1", 16, 8_192, 1_000, vm(1, 8_000, 10)), T0);
              s.onReport(host("h1", 16, 8_192, 1_000), T0 + 1);
            },
            request(2, 8_192, 20),
            T0 + 1,
            null));
    cases.add(
        new Case(
            "the first failing filter gives the reason",
            s -> {
              s.onReport(host("h1", 1, 1, 1), T0);
              s.onStatus(new ServiceStatus("h1", true, "maintenance", false));
            },
            request(),
            T0 + DOWN_MS + 1,
            "Compute service of h1 is down."));
    return cases.stream().map(c -> Arguments.of(c));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("filterTable")
  void filters(Case c) {
    HostScheduler s = new HostScheduler(DOWN_MS);
    c.setup.accept(s);
    Destinations d = s.select(c.req, c.nowMs);
    String host = c.name.equals("source host") ? SOURCE : "h1";
    if (c.why == null) {
      assertEquals(List.of(host), d.hosts(), c.name + ": rejected " + d.rejected());
      assertEquals(Map.of(), d.rejected(), c.name);
    } else {
      assertEquals(List.of(), d.hosts(), c.name);
      assertEquals(Map.of(host, c.why), d.rejected(), c.name);
    }
  }

  @Test
  void requestedUnknownHostIsNotFound() {
    HostScheduler s = new HostScheduler(DOWN_MS);
    s.onReport(host("h1"), T0);
    Destinations d = s.select(requested("X"), T0);
    assertEquals(List.of(), d.hosts());
    assertEquals(Map.of("X", "Compute host X could not be found."), d.rejected());
  }

  @Test
  void requestedHostWithoutAReportIsNotFound() {
    HostScheduler s = new HostScheduler(DOWN_MS);
    s.onHeartbeat("h2", T0);
    s.onStatus(new ServiceStatus("h3", false, null, false));
    assertEquals(
        Map.of("h2", "Compute host h2 could not be found."),
        s.select(requested("h2"), T0).rejected());
    assertEquals(
        Map.of("h3", "Compute host h3 could not be found."),
        s.select(requested("h3"), T0).rejected());
  }

  @Test
  void requestedValidHostIsReturnedAlone() {
    HostScheduler s = new HostScheduler(DOWN_MS);
    s.onReport(host("h1"), T0);
    s.onReport(host("h2", 16, 131_072, 1_000), T0);
    s.onReport(host("h3", 16, 1, 1), T0);
    Destinations d = s.select(requested("h1"), T0);
    assertEquals(List.of("h1"), d.hosts(), "only the requested host, though h2 has more RAM");
    assertEquals(Map.of(), d.rejected(), "other hosts are not even checked");
  }

  @Test
  void requestedHostThatFailsAFilterSaysWhy() {
    HostScheduler s = new HostScheduler(DOWN_MS);
    s.onReport(host("h1"), T0);
    s.onReport(host("h2"), T0);
    s.onStatus(new ServiceStatus("h1", true, "maintenance", false));
    Destinations d = s.select(requested("h1"), T0);
    assertEquals(List.of(), d.hosts(), "no fallback to another host");
    assertEquals(Map.of("h1", "Compute service of h1 is disabled."), d.rejected());
    s.onReport(host(SOURCE), T0);
    assertEquals(
        Map.of(SOURCE, "Unable to migrate instance to the current host (src)."),
        s.select(requested(SOURCE), T0).rejected(),
        "the source host named as destination is refused");
  }

  @Test
  void ramWeigherOrdersByFreeRamThenName() {
    HostScheduler s = new HostScheduler(DOWN_MS);
    s.onReport(host("b", 16, 32_768, 1_000), T0); // 32768 free
    s.onReport(host("a", 16, 32_768, 1_000), T0); // 32768 free, ties with b: name decides
    s.onReport(host("c", 16, 65_536, 1_000, vm(2, 16_384, 20)), T0); // 49152 free
    s.onReport(host("d", 16, 131_072, 1_000, vm(2, 114_688, 20)), T0); // 16384 free
    s.onReport(host("e", 16, 8_192, 1_000), T0); // too small: rejected
    s.onReport(host(SOURCE, 16, 262_144, 1_000), T0); // most free RAM, but the source
    Destinations d = s.select(request(2, 10_000, 20), T0);
    assertEquals(List.of("c", "a", "b", "d"), d.hosts());
    assertEquals(
        List.of("e", SOURCE),
        d.rejected().keySet().stream().sorted().toList(),
        "rejected: " + d.rejected());
    assertTrue(d.rejected().get("e").startsWith("Insufficient RAM on e"), d.rejected().get("e"));
  }

  @Test
  void everyHostIsListedOnceEitherChosenOrRejected() {
    HostScheduler s = new HostScheduler(DOWN_MS);
    for (int i = 0; i < 20; i++) {
      s.onReport(host("h" + i, 16, 4_096L * (i + 1), 1_000), T0);
    }
    s.onStatus(new ServiceStatus("h19", true, "maintenance", false));
    Destinations d = s.select(request(2, 40_000, 20), T0);
    assertEquals(20, s.size());
    assertEquals(20, d.hosts().size() + d.rejected().size());
    assertEquals(
        List.of("h18", "h17", "h16", "h15", "h14", "h13", "h12", "h11", "h10", "h9"), d.hosts());
  }

  private static SelectDestinations requested(String host) {
    return new SelectDestinations(
        "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a", SOURCE, host, 2, 4_096, 20, List.of());
  }

  // ------------------------------------------------------------------ CPU filter

  /** Shaped as LibvirtHypervisor reports them on the testbed (hostc's QEMU lacks avx2). */
  private static final String CPU_FULL =
      "model=EPYC features=acpi,avx,avx2,hypervisor,lahf_lm,sse4.2,vaes usable=qemu64,kvm64,EPYC";

  private static final String CPU_NO_AVX2 =
      "model=EPYC features=acpi,avx,hypervisor,lahf_lm,sse4.2,vaes usable=qemu64,kvm64";

  private static HostReport cpuHost(String name, String cpu, InstanceReport... instances) {
    return new HostReport(
        name,
        "nova",
        "QEMU",
        8_002_002,
        16,
        65_536,
        1_000,
        false,
        false,
        List.of(instances),
        null,
        null,
        null,
        cpu,
        null,
        null);
  }

  private static InstanceReport guest(String uuid, String cpuXml) {
    return new InstanceReport(
        uuid, "g", "running", 1, 256, 1, "p", "u", "m1.tiny", cpuXml, "pc-i440fx-10.0", null, null);
  }

  @Test
  void aHostWhoseCpuLacksAFeatureTheGuestRequiresIsSkipped() {
    String uuid = request().instanceUuid();
    String cpu =
        "<cpu mode='custom' match='exact' check='full'><model fallback='forbid'>qemu64</model>"
            + "<feature policy='require' name='avx2'/><feature policy='require' name='hypervisor'/>"
            + "<feature policy='disable' name='svm'/></cpu>";
    HostScheduler s = new HostScheduler(DOWN_MS);
    s.onReport(cpuHost(SOURCE, CPU_FULL, guest(uuid, cpu)), T0);
    s.onReport(cpuHost("old", CPU_NO_AVX2), T0);
    s.onReport(cpuHost("new", CPU_FULL), T0);
    Destinations d = s.select(request(), T0);
    assertEquals(List.of("new"), d.hosts());
    assertEquals(
        "Host old's CPU lacks avx2, which the guest's CPU (qemu64) requires.",
        d.rejected().get("old"));
  }

  @Test
  void aGuestModelTheHostCannotRunIsSkippedAndAGuestWithoutCpuGoesAnywhere() {
    String uuid = request().instanceUuid();
    HostScheduler s = new HostScheduler(DOWN_MS);
    s.onReport(
        cpuHost(SOURCE, CPU_FULL, guest(uuid, "<cpu mode='custom'><model>EPYC</model></cpu>")), T0);
    s.onReport(cpuHost("old", CPU_NO_AVX2), T0);
    s.onReport(cpuHost("new", CPU_FULL), T0);
    Destinations d = s.select(request(), T0);
    assertEquals(List.of("new"), d.hosts());
    assertEquals(
        "Host old cannot run the guest's CPU model EPYC (not usable there).",
        d.rejected().get("old"));
    // The same guest without a <cpu> element (the hypervisor's default CPU): both hosts fit, and
    // unlike plain model names the different descriptions do not reject.
    HostScheduler t = new HostScheduler(DOWN_MS);
    t.onReport(cpuHost(SOURCE, CPU_FULL, guest(uuid, null)), T0);
    t.onReport(cpuHost("old", CPU_NO_AVX2), T0);
    t.onReport(cpuHost("new", CPU_FULL), T0);
    assertEquals(2, t.select(request(), T0).hosts().size());
  }
}
