package io.livemigrate.scheduler.impl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.InstanceReport;
import io.livemigrate.common.contract.SchedulerMessages.Claimed;
import io.livemigrate.common.contract.SchedulerMessages.Destinations;
import io.livemigrate.common.contract.SchedulerMessages.InFlight;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Claims, in-flight limits, the compatibility filters and the weighers beyond RAM. */
class HostSchedulerClaimsTest {
  private static final long T0 = 1_700_000_000_000L;
  private static final long DOWN = 60_000;

  private static HostReport host(
      String name,
      String zone,
      String type,
      long version,
      String cpu,
      long memMb,
      int maxOut,
      int maxIn,
      double cpuRatio,
      InstanceReport... vms) {
    return new HostReport(
        name,
        zone,
        type,
        version,
        16,
        memMb,
        1_000,
        false,
        false,
        List.of(vms),
        cpuRatio,
        1.0,
        1.0,
        cpu,
        maxOut,
        maxIn);
  }

  private static HostReport plain(String name, long memMb, InstanceReport... vms) {
    return host(name, "nova", "QEMU", 8_000_000, null, memMb, 0, 0, 4.0, vms);
  }

  private static InstanceReport vm(String uuid, int vcpus, long memMb) {
    return new InstanceReport(uuid, "vm", "running", vcpus, memMb, 10, "p", "u", "f");
  }

  private static SelectDestinations req(String uuid, String source, int vcpus, long memMb) {
    return new SelectDestinations(uuid, source, null, vcpus, memMb, 10, List.of());
  }

  private static String uuid() {
    return UUID.randomUUID().toString();
  }

  @Test
  void claimsKeepConcurrentRequestsFromOversubscribingAHost() {
    HostScheduler s = new HostScheduler(DOWN);
    s.onReport(plain("src", 65_536), T0);
    s.onReport(plain("dst", 10_240), T0);
    List<String> chosen = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Destinations d = s.select(req(uuid(), "src", 1, 4_096), T0);
      chosen.add(d.hosts().isEmpty() ? "-" : d.hosts().get(0));
    }
    assertEquals(List.of("dst", "dst", "-", "-"), chosen, "10 GB fits two 4 GB guests");
    assertEquals(2, s.inFlight());
  }

  @Test
  void releaseAfterFailureFreesTheClaimAtOnce() {
    HostScheduler s = new HostScheduler(DOWN);
    s.onReport(plain("src", 65_536), T0);
    s.onReport(plain("dst", 4_096), T0);
    String a = uuid();
    assertEquals(List.of("dst"), s.select(req(a, "src", 1, 4_096), T0).hosts());
    assertTrue(s.select(req(uuid(), "src", 1, 4_096), T0).hosts().isEmpty());
    s.release(a, "failed", T0);
    assertEquals(0, s.inFlight());
    assertEquals(List.of("dst"), s.select(req(uuid(), "src", 1, 4_096), T0).hosts());
  }

  @Test
  void completedClaimHoldsTheResourcesUntilTheDestinationReportsTheInstance() {
    HostScheduler s = new HostScheduler(DOWN);
    s.onReport(plain("src", 65_536), T0);
    s.onReport(plain("dst", 4_096), T0);
    String a = uuid();
    s.select(req(a, "src", 1, 4_096), T0);
    s.release(a, "completed", T0);
    assertEquals(0, s.inFlight(), "no longer in flight");
    assertTrue(
        s.select(req(uuid(), "src", 1, 4_096), T0).hosts().isEmpty(),
        "but the memory stays claimed until dst reports the instance");
    s.onReport(plain("dst", 4_096, vm(a, 1, 4_096)), T0 + 1);
    // Now the instance itself uses it: still full, counted once.
    assertEquals(
        "Insufficient RAM on dst: 4096 MB needed, 0 MB free.",
        s.select(req(uuid(), "src", 1, 4_096), T0 + 1).rejected().get("dst"));
    s.onReport(plain("dst", 8_192, vm(a, 1, 4_096)), T0 + 2);
    assertEquals(List.of("dst"), s.select(req(uuid(), "src", 1, 4_096), T0 + 2).hosts());
  }

  @Test
  void retryReplacesTheEarlierClaim() {
    HostScheduler s = new HostScheduler(DOWN);
    s.onReport(plain("src", 65_536), T0);
    s.onReport(plain("d1", 4_096), T0);
    s.onReport(plain("d2", 4_096), T0);
    String a = uuid();
    String first = s.select(req(a, "src", 1, 4_096), T0).hosts().get(0);
    Destinations again =
        s.select(new SelectDestinations(a, "src", null, 1, 4_096, 10, List.of(first)), T0);
    assertEquals(1, again.hosts().size());
    assertEquals(1, s.inFlight(), "one migration, one claim");
  }

  @Test
  void outboundLimitOfTheSourceMakesRequestsWait() {
    HostScheduler s = new HostScheduler(DOWN);
    s.onReport(host("src", "nova", "QEMU", 1, null, 65_536, 1, 0, 4.0), T0);
    s.onReport(plain("dst", 65_536), T0);
    String a = uuid();
    assertEquals(List.of("dst"), s.select(req(a, "src", 1, 1_024), T0).hosts());
    Destinations second = s.select(req(uuid(), "src", 1, 1_024), T0);
    assertNotNull(second.waitReason());
    assertTrue(
        second.waitReason().contains("max_concurrent_live_migrations=1"), second.waitReason());
    s.release(a, "completed", T0);
    assertNull(s.select(req(uuid(), "src", 1, 1_024), T0).waitReason());
  }

  @Test
  void inboundLimitRejectsTheHostWhileFull() {
    HostScheduler s = new HostScheduler(DOWN);
    s.onReport(plain("src", 65_536), T0);
    s.onReport(host("dst", "nova", "QEMU", 8_000_000, null, 65_536, 0, 1, 4.0), T0);
    s.select(req(uuid(), "src", 1, 1_024), T0);
    Destinations d = s.select(req(uuid(), "src", 1, 1_024), T0);
    assertEquals(
        "Host dst already takes 1 inbound live migrations"
            + " (max_concurrent_inbound_live_migrations=1).",
        d.rejected().get("dst"));
  }

  @Test
  void clusterCapMakesRequestsWait() {
    HostScheduler s = new HostScheduler(DOWN, 2, HostScheduler.Weights.RAM_ONLY);
    s.onReport(plain("src", 65_536), T0);
    s.onReport(plain("dst", 65_536), T0);
    s.select(req(uuid(), "src", 1, 1_024), T0);
    s.select(req(uuid(), "src", 1, 1_024), T0);
    Destinations d = s.select(req(uuid(), "src", 1, 1_024), T0);
    assertTrue(d.waitReason().contains("maximum 2"), d.waitReason());
  }

  @Test
  void compatibilityFilters() {
    HostScheduler s = new HostScheduler(DOWN);
    s.onReport(host("src", "az1", "QEMU", 8_000_000, "Skylake", 65_536, 0, 0, 4.0), T0);
    s.onReport(host("other-az", "az2", "QEMU", 8_000_000, "Skylake", 65_536, 0, 0, 4.0), T0);
    s.onReport(host("other-hv", "az1", "simulated", 8_000_000, null, 65_536, 0, 0, 4.0), T0);
    s.onReport(host("older", "az1", "QEMU", 7_000_000, "Skylake", 65_536, 0, 0, 4.0), T0);
    s.onReport(host("other-cpu", "az1", "QEMU", 8_000_000, "EPYC", 65_536, 0, 0, 4.0), T0);
    s.onReport(host("ok", "az1", "QEMU", 9_000_000, "Skylake", 65_536, 0, 0, 4.0), T0);
    Destinations d = s.select(req(uuid(), "src", 1, 1_024), T0);
    assertEquals(List.of("ok"), d.hosts());
    Map<String, String> r = d.rejected();
    assertTrue(r.get("other-az").contains("availability zone az2"), r.get("other-az"));
    assertTrue(r.get("other-hv").contains("runs hypervisor simulated"), r.get("other-hv"));
    assertTrue(r.get("older").contains("older than the source's"), r.get("older"));
    assertTrue(r.get("other-cpu").contains("CPU model EPYC"), r.get("other-cpu"));
  }

  @Test
  void perHostCpuAllocationRatio() {
    HostScheduler s = new HostScheduler(DOWN);
    s.onReport(plain("src", 65_536), T0);
    s.onReport(
        host("strict", "nova", "QEMU", 8_000_000, null, 65_536, 0, 0, 1.0, vm(uuid(), 16, 1)), T0);
    Destinations d = s.select(req(uuid(), "src", 1, 1_024), T0);
    assertEquals("Insufficient vCPUs on strict: 1 needed, 0 free.", d.rejected().get("strict"));
  }

  @Test
  void cpuAndMigrationWeighers() {
    HostScheduler cpuOnly = new HostScheduler(DOWN, 0, new HostScheduler.Weights(0, 1, 0));
    cpuOnly.onReport(plain("src", 65_536), T0);
    cpuOnly.onReport(plain("busy-cpu", 65_536, vm(uuid(), 30, 1)), T0);
    cpuOnly.onReport(plain("idle-cpu", 32_768), T0);
    assertEquals(
        List.of("idle-cpu", "busy-cpu"), cpuOnly.select(req(uuid(), "src", 1, 1), T0).hosts());

    HostScheduler migOnly = new HostScheduler(DOWN, 0, new HostScheduler.Weights(0, 0, 1));
    migOnly.onReport(plain("src", 65_536), T0);
    migOnly.onReport(plain("a", 65_536), T0);
    migOnly.onReport(plain("b", 65_536), T0);
    // Ties on everything: "a" by name, and it gets the claim...
    assertEquals("a", migOnly.select(req(uuid(), "src", 1, 1), T0).hosts().get(0));
    // ...so the next one prefers b, which has fewer migrations in flight.
    assertEquals("b", migOnly.select(req(uuid(), "src", 1, 1), T0).hosts().get(0));
  }

  @Test
  void aRestartedSchedulerRebuildsItsClaimsFromTheInFlightSnapshot() {
    HostScheduler s = new HostScheduler(DOWN);
    s.onReport(host("src", "nova", "QEMU", 8_000_000, null, 65_536, 1, 0, 4.0), T0);
    s.onReport(plain("dst", 8_192), T0);
    String inFlight = uuid();
    // Nothing claimed: a fresh scheduler would give the source's only slot away.
    s.inFlight(new InFlight(T0, List.of(new Claimed(inFlight, "src", "dst", 2, 6_144, 0))), T0 + 1);
    assertEquals(1, s.inFlight());
    Destinations d = s.select(req(uuid(), "src", 1, 1_024), T0 + 2);
    assertNotNull(d.waitReason(), "the source's slot is taken by the snapshot's migration");
  }

  @Test
  void aClaimWhoseReleaseWasLostIsDroppedByALaterSnapshot() {
    HostScheduler s = new HostScheduler(DOWN);
    s.onReport(host("src", "nova", "QEMU", 8_000_000, null, 65_536, 1, 0, 4.0), T0);
    s.onReport(plain("dst", 8_192), T0);
    String first = uuid();
    assertEquals(List.of("dst"), s.select(req(first, "src", 1, 1_024), T0).hosts());
    // Its release never arrives; a snapshot young enough keeps it (it may not be recorded yet).
    s.inFlight(new InFlight(T0, List.of()), T0 + 1_000);
    assertEquals(1, s.inFlight(), "too young to drop");
    s.inFlight(new InFlight(T0, List.of()), T0 + Claims.SNAPSHOT_GRACE_MS + 1);
    assertEquals(0, s.inFlight());
    assertEquals(1, s.leakedClaims());
    assertNull(s.select(req(uuid(), "src", 1, 1_024), T0 + 20_000).waitReason());
  }
}
