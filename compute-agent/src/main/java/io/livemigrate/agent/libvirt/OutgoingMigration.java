package io.livemigrate.agent.libvirt;

import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import io.livemigrate.agent.Hypervisor.MigrationFlags;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import io.livemigrate.agent.HypervisorException;
import io.livemigrate.agent.libvirt.Libvirt.Closing;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts and runs outbound migrations the way Nova's libvirt driver does: peer-to-peer to the
 * destination's libvirtd, persistent there, undefined here, with the streams and convergence aids
 * the settings name.
 */
final class OutgoingMigration {
  private static final Logger LOG = LoggerFactory.getLogger(OutgoingMigration.class);

  private final Libvirt lv;
  private final Settings settings;
  private final Map<String, MigrationJob> jobs;
  private final JobCompletedEvents events;
  private final BlockMigrationDisks disks;
  private final MigrationOutcome outcome;

  OutgoingMigration(
      Libvirt lv,
      Settings settings,
      Map<String, MigrationJob> jobs,
      JobCompletedEvents events,
      BlockMigrationDisks disks,
      MigrationOutcome outcome) {
    this.lv = lv;
    this.settings = settings;
    this.jobs = jobs;
    this.events = events;
    this.disks = disks;
    this.outcome = outcome;
  }

  /**
   * Starts a peer-to-peer live migration on a thread of its own. For a block migration the
   * destination's disks are created first.
   *
   * @throws HypervisorException NOT_FOUND for an unknown domain; HYPERVISOR_ERROR if a job already
   *     runs for it or the destination cannot be prepared
   */
  CompletableFuture<MigrationResult> start(String uuid, String destHost, MigrationFlags flags)
      throws HypervisorException {
    org.libvirt.Domain dom = lv.lookup(lv.conn(), uuid);
    String dest = lv.uriOf(destHost);
    MigrationJob job = new MigrationJob(uuid);
    if (jobs.putIfAbsent(uuid, job) != null) {
      throw new HypervisorException("HYPERVISOR_ERROR", "a job already runs for " + uuid);
    }
    try {
      if (flags.blockMigration()) disks.precreate(dom, job, dest);
      if (flags.maxDowntimeMs() > 0) {
        // Sets QEMU's downtime-limit now; the migration keeps it (no migrate parameter exists).
        dom.migrateSetMaxDowntime(flags.maxDowntimeMs());
      }
    } catch (LibvirtException e) {
      disks.removeCreated(job, dest);
      jobs.remove(uuid);
      throw Libvirt.error("cannot start migration of " + uuid, e);
    } catch (HypervisorException | RuntimeException e) {
      disks.removeCreated(job, dest);
      jobs.remove(uuid);
      throw e;
    }
    int migrateFlags =
        migrateFlags(flags)
            | (!flags.blockMigration() && sharedByMarker(destHost) ? VirtNative.UNSAFE : 0);
    events.forget(uuid);
    Thread t = new Thread(() -> run(job, dest, flags, migrateFlags), "libvirt-migrate-" + uuid);
    t.setDaemon(true);
    t.start();
    return job.future;
  }

  /**
   * Whether the operator trusts markers and the destination's marker is in this host's instance
   * directory: then the disks are the same files on both sides, whatever libvirt can tell of the
   * filesystem.
   */
  private boolean sharedByMarker(String destHost) {
    if (!settings.sharedStorageByMarker) return false;
    try {
      return SharedStorage.peers(lv.conn(), settings.instancesPath, lv.host).contains(destHost);
    } catch (LibvirtException | HypervisorException e) {
      LOG.warn(
          "[host {}] storage markers not read, storage not trusted as shared: {}",
          lv.host,
          e.getMessage());
      return false;
    }
  }

  private int migrateFlags(MigrationFlags flags) {
    int f = VirtNative.LIVE | VirtNative.PEER2PEER | VirtNative.PERSIST_DEST;
    f |= VirtNative.UNDEFINE_SOURCE;
    if (flags.blockMigration()) f |= VirtNative.NON_SHARED_INC;
    // Both may be set: the throttle first, post-copy when the conductor decides it does not help.
    if (flags.postCopy()) f |= VirtNative.POSTCOPY;
    if (flags.autoConverge()) f |= VirtNative.AUTO_CONVERGE;
    if (settings.nativeTls) f |= VirtNative.TLS;
    if (parallel(flags) > 1) f |= VirtNative.PARALLEL;
    if (!"none".equals(settings.compression)) f |= VirtNative.COMPRESSED;
    return f;
  }

  /**
   * The multifd connections for this migration: QEMU before 10.1 cannot combine multifd with
   * post-copy, so a migration that may switch to post-copy there uses one stream.
   */
  private int parallel(MigrationFlags flags) {
    int parallelConnections = settings.parallelConnections;
    if (parallelConnections <= 1) return 1;
    if (flags.postCopy() && lv.version() < 10_001_000L) {
      LOG.info(
          "[host {}] one stream instead of {}: post-copy with multifd needs QEMU 10.1",
          lv.host,
          parallelConnections);
      return 1;
    }
    return parallelConnections;
  }

  private void run(MigrationJob job, String dest, MigrationFlags flags, int migrateFlags) {
    PointerByReference params = new PointerByReference();
    IntByReference n = new IntByReference(0);
    // Its own connection: the call holds this thread for the whole transfer.
    try (Closing c = Closing.to(lv.uri)) {
      org.libvirt.Domain dom = lv.lookup(c.conn(), job.uuid);
      addParams(params, n, flags, migrateFlags);
      LOG.info(
          "[host {}] virDomainMigrateToURI3 {} -> {} flags 0x{}",
          lv.host,
          job.uuid,
          dest,
          Integer.toHexString(migrateFlags));
      int rc =
          Libvirt.withPtr(
              dom,
              p ->
                  VirtNative.LIB.virDomainMigrateToURI3(
                      p, dest, params.getValue(), n.getValue(), migrateFlags));
      if (rc < 0) {
        String msg = VirtNative.LIB.virGetLastErrorMessage();
        boolean cancelled = job.aborted || (msg != null && msg.contains("canceled by client"));
        throw new HypervisorException(cancelled ? "CANCELLED" : "HYPERVISOR_ERROR", msg);
      }
      job.future.complete(outcome.at(job, dest));
    } catch (HypervisorException e) {
      disks.removeCreated(job, dest);
      job.future.completeExceptionally(e);
    } catch (RuntimeException e) {
      disks.removeCreated(job, dest);
      job.future.completeExceptionally(new HypervisorException("HYPERVISOR_ERROR", e.toString()));
    } finally {
      if (params.getValue() != null) {
        VirtNative.LIB.virTypedParamsFree(params.getValue(), n.getValue());
      }
      jobs.remove(job.uuid);
    }
  }

  /** The typed parameters of virDomainMigrateToURI3 that go with the flags. */
  private void addParams(
      PointerByReference params, IntByReference n, MigrationFlags flags, int migrateFlags) {
    IntByReference max = new IntByReference(0);
    if (flags.bandwidthMibps() > 0) {
      VirtNative.LIB.virTypedParamsAddULLong(params, n, max, "bandwidth", flags.bandwidthMibps());
    }
    if ((migrateFlags & VirtNative.PARALLEL) != 0) {
      VirtNative.LIB.virTypedParamsAddInt(params, n, max, "parallel.connections", parallel(flags));
    }
    if ((migrateFlags & VirtNative.COMPRESSED) != 0) {
      String compression = settings.compression;
      VirtNative.LIB.virTypedParamsAddString(params, n, max, "compression", compression);
      if ("zstd".equals(compression)) {
        VirtNative.LIB.virTypedParamsAddInt(
            params, n, max, "compression.zstd.level", settings.compressionLevel);
      }
    }
    if ((migrateFlags & VirtNative.AUTO_CONVERGE) != 0) {
      VirtNative.LIB.virTypedParamsAddInt(
          params, n, max, "auto_converge.initial", settings.autoConvergeInitial);
      VirtNative.LIB.virTypedParamsAddInt(
          params, n, max, "auto_converge.increment", settings.autoConvergeIncrement);
    }
  }
}
