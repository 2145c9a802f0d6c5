package io.livemigrate.agent.sim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.Hypervisor.Domain;
import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.Hypervisor.IncomingSpec;
import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.Hypervisor.MigrationFlags;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import io.livemigrate.agent.HypervisorException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class SimulatedHypervisorTest {

  private static final long MIB = 1L << 20;
  private static final long GIB = 1L << 30;
  private static final HostResources CAPACITY = new HostResources(16, 8192, 100);
  private static final MigrationFlags PLAIN = new MigrationFlags(false, false, false, 0, 50);
  private static final MigrationFlags POSTCOPY = new MigrationFlags(false, false, true, 0, 50);

  private ScheduledExecutorService scheduler;
  private SimulatedHypervisor src;
  private SimulatedHypervisor dst;

  @BeforeEach
  void setUp() {
    scheduler =
        Executors.newScheduledThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "sim-test");
              t.setDaemon(true);
              return t;
            });
    // 64 MiB guests at 256 MiB/s: a converging migration takes about a quarter second.
    src = new SimulatedHypervisor("src", CAPACITY, 256 * MIB, 10, scheduler);
    dst = new SimulatedHypervisor("dst", CAPACITY, 256 * MIB, 10, scheduler);
  }

  @AfterEach
  void tearDown() {
    src.close();
    dst.close();
    scheduler.shutdownNow();
  }

  /** Converges: dirties 8 MiB/s of a 64 MiB guest. */
  private static SimDomain calm(String uuid) {
    return SimDomain.of(uuid, 64, 1, 8 * MIB);
  }

  /** Never converges at 50 ms: rewrites 32 MiB at twice the link speed. */
  private static SimDomain busy(String uuid) {
    return SimDomain.of(uuid, 64, 1, 512 * MIB).withWorkingSet(32 * MIB);
  }

  private static IncomingSpec spec(String uuid, long memoryMb, long diskGb) {
    return new IncomingSpec(
        uuid, "instance-" + uuid, "src", 1, memoryMb, diskGb, false, "project", "user", "flavor");
  }

  private static MigrationResult await(CompletableFuture<MigrationResult> future) throws Exception {
    return future.get(10, SECONDS);
  }

  private static HypervisorException failureOf(CompletableFuture<MigrationResult> future) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> future.get(10, SECONDS));
    return assertInstanceOf(HypervisorException.class, e.getCause());
  }

  private static HypervisorException fails(String reason, Executable call) {
    HypervisorException e = assertThrows(HypervisorException.class, call);
    assertEquals(reason, e.reason(), e.getMessage());
    return e;
  }

  private static Optional<Domain> find(SimulatedHypervisor hv, String uuid) {
    return hv.listDomains().stream().filter(d -> d.uuid().equals(uuid)).findFirst();
  }

  @Test
  void describesItself() {
    assertEquals("simulated", src.type());
    assertEquals(9_000_000L, src.version());
    assertEquals(CAPACITY, src.resources());
    assertEquals("src", src.host());
  }

  @Test
  void migrationCompletesAndRemovesTheDomainFromTheSource() throws Exception {
    src.define(calm("vm-1"));
    assertEquals("running", find(src, "vm-1").orElseThrow().state());

    MigrationResult r = await(src.migrate("vm-1", "dst", PLAIN));

    assertEquals(64 * MIB, r.memoryTotalBytes());
    assertTrue(r.memoryTransferredBytes() >= 64 * MIB, "" + r);
    assertTrue(r.downtimeMs() <= 50 + PrecopyModel.SWITCH_COST_MS, "" + r);
    assertEquals(0, r.diskTotalBytes());
    assertEquals("precopy", r.mode());
    assertTrue(find(src, "vm-1").isEmpty());
    assertTrue(src.jobStats("vm-1").isEmpty());
  }

  @Test
  void incomingInstanceIsListedOnlyAfterFinish() throws Exception {
    src.define(calm("vm-1"));
    IncomingSpec spec = spec("vm-1", 64, 1);

    dst.prepareIncoming(spec);
    dst.prepareIncoming(spec);
    assertTrue(dst.hasIncoming("vm-1"));
    assertTrue(dst.listDomains().isEmpty(), "a placeholder is not listed");

    await(src.migrate("vm-1", "dst", PLAIN));
    dst.finishIncoming("vm-1");
    dst.finishIncoming("vm-1");

    Domain d = find(dst, "vm-1").orElseThrow();
    assertEquals("running", d.state());
    assertEquals(64, d.memoryMb());
    assertEquals("instance-vm-1", d.name());
    assertEquals("project", d.projectId());
    assertFalse(dst.hasIncoming("vm-1"));
    assertTrue(find(src, "vm-1").isEmpty());
    fails("NOT_FOUND", () -> dst.finishIncoming("vm-unknown"));
  }

  @Test
  void cancelledReservationFreesItsCapacity() throws Exception {
    dst.prepareIncoming(spec("vm-a", 6144, 10));
    fails("PREPARE_FAILED", () -> dst.prepareIncoming(spec("vm-b", 4096, 10)));

    dst.cancelIncoming("vm-a");
    dst.cancelIncoming("vm-a");

    assertFalse(dst.hasIncoming("vm-a"));
    dst.prepareIncoming(spec("vm-b", 4096, 10));
    fails("NOT_FOUND", () -> dst.finishIncoming("vm-a"));
  }

  @Test
  void prepareRefusesWhenMemoryOrDiskIsInsufficient() throws Exception {
    dst.define(SimDomain.of("resident", 6144, 10, 0));

    HypervisorException e =
        fails("PREPARE_FAILED", () -> dst.prepareIncoming(spec("vm-1", 4096, 1)));
    assertTrue(e.getMessage().contains("memory"), e.getMessage());
    fails("PREPARE_FAILED", () -> dst.prepareIncoming(spec("vm-2", 1024, 200)));

    dst.prepareIncoming(spec("vm-3", 2048, 10));
    // The reservation counts: nothing is left now.
    fails("PREPARE_FAILED", () -> dst.prepareIncoming(spec("vm-4", 1, 1)));
    // vCPUs may be overcommitted.
    dst.cancelIncoming("vm-3");
    dst.prepareIncoming(new IncomingSpec("vm-5", "n", "src", 64, 1024, 1, false, "p", "u", "f"));
    fails("PREPARE_FAILED", () -> dst.prepareIncoming(spec("resident", 1, 1)));
  }

  @Test
  void abortFailsTheJobWithCancelledAndKeepsTheDomain() throws Exception {
    src.define(busy("vm-1"));
    CompletableFuture<MigrationResult> future = src.migrate("vm-1", "dst", PLAIN);

    JobStats stats = src.jobStats("vm-1").orElseThrow();
    assertEquals(64 * MIB, stats.memoryTotalBytes());
    assertEquals("precopy", stats.mode());
    src.abortJob("vm-1");

    HypervisorException e = failureOf(future);
    assertEquals("CANCELLED", e.reason());
    assertEquals("running", find(src, "vm-1").orElseThrow().state());
    assertTrue(src.jobStats("vm-1").isEmpty());
    fails("NO_JOB", () -> src.abortJob("vm-1"));
    // The domain can be migrated again.
    src.setDirtyRate("vm-1", 0);
    await(src.migrate("vm-1", "dst", PLAIN));
  }

  @Test
  void jobStatsArePresentWhileRunningAndEmptyAfter() throws Exception {
    src.define(busy("vm-1"));
    assertTrue(src.jobStats("vm-1").isEmpty());
    CompletableFuture<MigrationResult> future = src.migrate("vm-1", "dst", PLAIN);

    assertTrue(src.jobStats("vm-1").isPresent());
    assertEquals(256 * MIB, src.jobStats("vm-1").orElseThrow().bandwidthBps());
    src.setMaxDowntime("vm-1", 10_000);

    MigrationResult r = await(future);
    assertTrue(r.downtimeMs() > 50, "completed only thanks to the raised max downtime: " + r);
    assertTrue(src.jobStats("vm-1").isEmpty());
    assertTrue(find(src, "vm-1").isEmpty());
  }

  @Test
  void setMaxSpeedChangesTheBandwidthAndZeroRestoresTheLink() throws Exception {
    src.define(busy("vm-1"));
    CompletableFuture<MigrationResult> future = src.migrate("vm-1", "dst", PLAIN);

    src.setMaxSpeed("vm-1", 100);
    assertEquals(100 * MIB, src.jobStats("vm-1").orElseThrow().bandwidthBps());
    src.setMaxSpeed("vm-1", 0);
    assertEquals(256 * MIB, src.jobStats("vm-1").orElseThrow().bandwidthBps());
    fails("HYPERVISOR_ERROR", () -> src.setMaxSpeed("vm-1", -1));

    src.abortJob("vm-1");
    assertEquals("CANCELLED", failureOf(future).reason());
  }

  @Test
  void scriptedPrepareFailureReservesNothing() throws Exception {
    dst.script(FailurePoint.PREPARE, SimulatedHypervisor.ANY, "no room for you");

    HypervisorException e = fails("PREPARE_FAILED", () -> dst.prepareIncoming(spec("vm-1", 64, 1)));
    assertEquals("no room for you", e.getMessage());
    assertFalse(dst.hasIncoming("vm-1"));
    // Persistent until cleared.
    fails("PREPARE_FAILED", () -> dst.prepareIncoming(spec("vm-1", 64, 1)));

    dst.clearScripts();
    dst.prepareIncoming(spec("vm-1", 64, 1));
    assertTrue(dst.hasIncoming("vm-1"));
  }

  @Test
  void scriptedMidwayFailureKeepsTheDomainOnTheSource() throws Exception {
    src.define(calm("vm-1"));
    src.define(calm("vm-2"));
    src.script(FailurePoint.MIGRATE_MIDWAY, "vm-1", "connection reset by peer");

    CompletableFuture<MigrationResult> failing = src.migrate("vm-1", "dst", PLAIN);
    CompletableFuture<MigrationResult> fine = src.migrate("vm-2", "dst", PLAIN);

    HypervisorException e = failureOf(failing);
    assertEquals("HYPERVISOR_ERROR", e.reason());
    assertEquals("connection reset by peer", e.getMessage());
    assertEquals("running", find(src, "vm-1").orElseThrow().state());
    assertTrue(src.jobStats("vm-1").isEmpty());
    await(fine);
    assertTrue(find(src, "vm-2").isEmpty());
  }

  @Test
  void scriptedStartAndFinishFailures() throws Exception {
    src.define(calm("vm-1"));
    src.script(FailurePoint.MIGRATE_START, "vm-1", "unable to connect");
    fails("HYPERVISOR_ERROR", () -> src.migrate("vm-1", "dst", PLAIN));
    assertTrue(src.jobStats("vm-1").isEmpty());

    dst.prepareIncoming(spec("vm-1", 64, 1));
    dst.script(FailurePoint.FINISH_INCOMING, SimulatedHypervisor.ANY, "domain not found");
    fails("HYPERVISOR_ERROR", () -> dst.finishIncoming("vm-1"));
    assertTrue(dst.listDomains().isEmpty());

    dst.clearScripts();
    dst.finishIncoming("vm-1");
    assertTrue(find(dst, "vm-1").isPresent());
  }

  @Test
  void ignoredAbortKeepsTheJobRunning() throws Exception {
    src.define(busy("vm-1"));
    src.script(FailurePoint.ABORT_IGNORED, "vm-1", "monitor hung");
    CompletableFuture<MigrationResult> future = src.migrate("vm-1", "dst", PLAIN);

    src.abortJob("vm-1");
    src.abortJob("vm-1");

    assertFalse(future.isDone());
    assertTrue(src.jobStats("vm-1").isPresent());
    src.clearScripts();
    src.abortJob("vm-1");
    assertEquals("CANCELLED", failureOf(future).reason());
  }

  @Test
  void migrateRejectsUnknownDomainsAndSecondJobs() throws Exception {
    fails("NOT_FOUND", () -> src.migrate("vm-none", "dst", PLAIN));
    src.define(busy("vm-1"));
    fails("HYPERVISOR_ERROR", () -> src.migrate("vm-1", "src", PLAIN));
    CompletableFuture<MigrationResult> future = src.migrate("vm-1", "dst", PLAIN);

    fails("HYPERVISOR_ERROR", () -> src.migrate("vm-1", "dst", PLAIN));

    src.abortJob("vm-1");
    assertEquals("CANCELLED", failureOf(future).reason());
  }

  @Test
  void jobControlsNeedAJob() {
    src.define(calm("vm-1"));
    List<Executable> calls =
        List.of(
            () -> src.setMaxDowntime("vm-1", 100),
            () -> src.setMaxSpeed("vm-1", 100),
            () -> src.abortJob("vm-1"),
            () -> src.suspend("vm-1"),
            () -> src.startPostCopy("vm-1"));
    for (Executable call : calls) {
      fails("NO_JOB", call);
    }
    fails("NOT_FOUND", () -> src.abortJob("vm-none"));
    fails("NOT_FOUND", () -> src.suspend("vm-none"));
  }

  @Test
  void postCopyNeedsTheFlagAndThenCompletesWithSmallDowntime() throws Exception {
    src.define(busy("vm-1"));
    src.define(busy("vm-2"));
    CompletableFuture<MigrationResult> plain = src.migrate("vm-1", "dst", PLAIN);
    fails("HYPERVISOR_ERROR", () -> src.startPostCopy("vm-1"));
    src.abortJob("vm-1");
    failureOf(plain);

    CompletableFuture<MigrationResult> future = src.migrate("vm-2", "dst", POSTCOPY);
    src.startPostCopy("vm-2");
    MigrationResult r = await(future);

    assertEquals("postcopy", r.mode());
    assertTrue(r.downtimeMs() <= 50, "" + r);
    assertTrue(find(src, "vm-2").isEmpty());
  }

  @Test
  void suspendPausesTheGuestAndTheJobConverges() throws Exception {
    src.define(busy("vm-1"));
    CompletableFuture<MigrationResult> future = src.migrate("vm-1", "dst", PLAIN);

    src.suspend("vm-1");
    assertEquals("paused", find(src, "vm-1").map(Domain::state).orElse("gone"));

    MigrationResult r = await(future);
    assertEquals("paused", r.mode());
    assertTrue(find(src, "vm-1").isEmpty());
  }

  @Test
  void dirtyRateChangeReachesTheRunningJob() throws Exception {
    src.define(busy("vm-1"));
    CompletableFuture<MigrationResult> future = src.migrate("vm-1", "dst", PLAIN);

    src.setDirtyRate("vm-1", 0);

    await(future);
    assertThrows(IllegalArgumentException.class, () -> src.setDirtyRate("vm-1", 0));
  }

  @Test
  void blockMigrationCopiesTheDisk() throws Exception {
    src.define(calm("vm-1"));
    MigrationResult r =
        await(src.migrate("vm-1", "dst", new MigrationFlags(true, false, false, 4096, 50)));
    assertEquals(GIB, r.diskTotalBytes());
    assertTrue(r.diskTransferredBytes() >= GIB, "" + r);
  }

  @Test
  void instantGuestCompletesAtTheFirstTick() throws Exception {
    src.define(SimDomain.of("vm-big", 65536, 500, GIB).withInstant(true));
    MigrationResult r = await(src.migrate("vm-big", "dst", PLAIN));
    assertEquals(1, r.iterations());
    assertEquals(64 * GIB, r.memoryTransferredBytes());
  }

  @Test
  void incomingProfileCarriesTheGuestBehaviour() throws Exception {
    dst.prepareIncoming(spec("vm-1", 64, 1));
    dst.setIncomingProfile(busy("vm-1"));
    dst.finishIncoming("vm-1");
    assertEquals(512 * MIB, dst.domain("vm-1").orElseThrow().dirtyRateBps());
  }

  @Test
  void cleanupSourceIsIdempotent() {
    src.define(calm("vm-1"));
    src.cleanupSource("vm-1");
    src.cleanupSource("vm-1");
    assertTrue(src.listDomains().isEmpty());
  }

  @Test
  void ownSchedulerVariantWorksAndCloseFailsRunningJobs() throws Exception {
    SimulatedHypervisor own = new SimulatedHypervisor("own", CAPACITY, 256 * MIB, 10);
    try {
      own.define(calm("vm-1"));
      await(own.migrate("vm-1", "dst", PLAIN));
      own.define(busy("vm-2"));
      CompletableFuture<MigrationResult> future = own.migrate("vm-2", "dst", PLAIN);
      own.close();
      assertEquals("HYPERVISOR_ERROR", failureOf(future).reason());
      fails("HYPERVISOR_ERROR", () -> own.migrate("vm-2", "dst", PLAIN));
    } finally {
      own.close();
    }
  }
}
