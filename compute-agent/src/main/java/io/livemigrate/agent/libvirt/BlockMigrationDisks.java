package io.livemigrate.agent.libvirt;

import io.livemigrate.agent.HypervisorException;
import io.livemigrate.agent.libvirt.Libvirt.Closing;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.libvirt.StoragePool;
import org.libvirt.StorageVol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The disks of a block migration: created on the destination before it starts (as Nova's
 * pre_live_migration does: libvirt will not pre-create storage for an incremental copy), removed
 * there when it fails, and removed here once the instance runs there.
 */
final class BlockMigrationDisks {
  private static final Logger LOG = LoggerFactory.getLogger(BlockMigrationDisks.class);

  private final Libvirt lv;

  /** Local disk paths of domains block-migrated away, removed by {@link #cleanupSource}. */
  private final Map<String, List<String>> migratedDisks = new ConcurrentHashMap<>();

  BlockMigrationDisks(Libvirt lv) {
    this.lv = lv;
  }

  void precreate(org.libvirt.Domain dom, MigrationJob job, String dest)
      throws LibvirtException, HypervisorException {
    String uuid = job.uuid;
    List<String> paths = new ArrayList<>();
    Matcher m =
        Pattern.compile(
                "<disk type='file' device='disk'>.*?<driver[^>]*type='(\\w+)'.*?"
                    + "<source file='([^']+)'",
                Pattern.DOTALL)
            .matcher(dom.getXMLDesc(0));
    try (Closing c = Closing.to(dest)) {
      while (m.find()) {
        String format = m.group(1);
        String path = m.group(2);
        paths.add(path);
        long capacity = lv.conn().storageVolLookupByPath(path).getInfo().capacity;
        String dir = path.substring(0, path.lastIndexOf('/'));
        String name = path.substring(path.lastIndexOf('/') + 1);
        StoragePool pool = poolAt(c.conn(), dir, dest);
        pool.refresh(0);
        if (List.of(pool.listVolumes()).contains(name)) continue;
        StorageVol v =
            pool.storageVolCreateXML(
                "<volume><name>"
                    + name
                    + "</name><capacity unit='bytes'>"
                    + capacity
                    + "</capacity><target><format type='"
                    + format
                    + "'/></target></volume>",
                0);
        synchronized (job.createdOnDest) {
          job.createdOnDest.add(v.getPath());
        }
        LOG.info("[host {}] created {} on {} for block migration", lv.host, v.getPath(), dest);
      }
    }
    migratedDisks.put(uuid, paths);
  }

  /**
   * After a failed or cancelled block migration: the volumes created on the destination for it
   * would otherwise stay there, and a later block migration of the same instance to that host would
   * copy into (and trust) a stale image. Only what this job created goes, and only when the domain
   * does not run there (a failure reported after the switch-over leaves everything).
   */
  void removeCreated(MigrationJob job, String dest) {
    List<String> paths;
    synchronized (job.createdOnDest) {
      paths = List.copyOf(job.createdOnDest);
      job.createdOnDest.clear();
    }
    if (paths.isEmpty()) return;
    try (Closing c = Closing.to(dest)) {
      try {
        if (c.conn().domainLookupByUUIDString(job.uuid).isActive() == 1) {
          LOG.warn(
              "[host {}] {} runs on {} after a failed migration; its disks stay",
              lv.host,
              job.uuid,
              dest);
          return;
        }
      } catch (LibvirtException notThere) {
        // the usual case: the incoming domain is gone with the failed migration
      }
      for (String p : paths) {
        try {
          c.conn().storageVolLookupByPath(p).delete(0);
          LOG.info("[host {}] removed {} from {} after the failed migration", lv.host, p, dest);
        } catch (LibvirtException e) {
          LOG.warn("[host {}] could not remove {} from {}: {}", lv.host, p, dest, e.getMessage());
        }
      }
    } catch (HypervisorException e) {
      LOG.warn("[host {}] {} unreachable; left {} there: {}", lv.host, dest, paths, e.getMessage());
    }
  }

  private static StoragePool poolAt(Connect c, String dir, String dest)
      throws LibvirtException, HypervisorException {
    for (String name : c.listStoragePools()) {
      StoragePool p = c.storagePoolLookupByName(name);
      if (p.getXMLDesc(0).contains("<path>" + dir + "</path>")) return p;
    }
    throw new HypervisorException(
        "HYPERVISOR_ERROR", "no active storage pool for " + dir + " on " + dest);
  }

  /**
   * Removes the local disks a block migration copied away. The domain itself is already undefined
   * here (UNDEFINE_SOURCE).
   */
  void cleanupSource(String uuid) {
    List<String> paths = migratedDisks.remove(uuid);
    if (paths == null) return;
    for (String p : paths) {
      try {
        lv.conn().storageVolLookupByPath(p).delete(0);
      } catch (LibvirtException e) {
        LOG.warn("[host {}] could not remove {}: {}", lv.host, p, e.getMessage());
      }
    }
  }
}
