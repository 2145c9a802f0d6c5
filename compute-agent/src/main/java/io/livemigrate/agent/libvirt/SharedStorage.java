package io.livemigrate.agent.libvirt;

import io.livemigrate.agent.HypervisorException;
import java.util.ArrayList;
import java.util.List;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.libvirt.StoragePool;

/**
 * Which hosts share this host's instance storage, as Nova finds out (a file one host writes, the
 * other looks for), but kept: every host keeps a marker volume {@value #PREFIX}HOST in the storage
 * pool whose target is its instance directory (not a dot file: a dir pool ignores those), and
 * another host's marker there means that host's disks are visible here. Everything goes through
 * libvirt, so the answer is what libvirt and QEMU on this host see (their mount namespace), not
 * what the agent's process sees.
 */
final class SharedStorage {
  static final String PREFIX = "livemigrate-host-";

  private SharedStorage() {}

  /**
   * Writes this host's marker if it is missing and returns the other hosts whose markers are there.
   *
   * @throws HypervisorException if no active storage pool has {@code path} as its target
   */
  static List<String> peers(Connect conn, String path, String self)
      throws LibvirtException, HypervisorException {
    StoragePool pool = poolAt(conn, path);
    pool.refresh(0);
    String mine = PREFIX + self;
    List<String> others = new ArrayList<>();
    boolean have = false;
    for (String v : pool.listVolumes()) {
      if (v.equals(mine)) have = true;
      else if (v.startsWith(PREFIX)) others.add(v.substring(PREFIX.length()));
    }
    if (!have) {
      pool.storageVolCreateXML(
          "<volume><name>"
              + mine
              + "</name><capacity unit='bytes'>0</capacity>"
              + "<target><format type='raw'/></target></volume>",
          0);
    }
    others.sort(null);
    return others;
  }

  private static StoragePool poolAt(Connect c, String path)
      throws LibvirtException, HypervisorException {
    String dir =
        path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
    for (String name : c.listStoragePools()) {
      StoragePool p = c.storagePoolLookupByName(name);
      if (p.getXMLDesc(0).contains("<path>" + dir + "</path>")) return p;
    }
    throw new HypervisorException(
        "HYPERVISOR_ERROR", "no active storage pool has " + dir + " as its target");
  }
}
