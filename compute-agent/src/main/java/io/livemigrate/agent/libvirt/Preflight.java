package io.livemigrate.agent.libvirt;

import com.sun.jna.Pointer;
import io.livemigrate.agent.Hypervisor.IncomingSpec;
import io.livemigrate.agent.HypervisorException;
import io.livemigrate.agent.libvirt.Libvirt.Closing;
import java.util.List;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The destination's checks before the first byte of a migration is sent. */
final class Preflight {
  private static final Logger LOG = LoggerFactory.getLogger(Preflight.class);

  private final Libvirt lv;
  private final Settings settings;

  Preflight(Libvirt lv, Settings settings) {
    this.lv = lv;
    this.settings = settings;
  }

  /**
   * The checks before the first byte, each a refusal with its own reason code and a line naming
   * both hosts: QEMU and libvirt not older than the source's, the guest's machine type known to
   * this QEMU, the guest's CPU one this hypervisor can provide ({@code
   * virConnectCompareHypervisorCPU} for {@code virt_type}), and for a shared-storage migration the
   * source's marker in this host's instance directory.
   */
  void check(IncomingSpec spec) throws HypervisorException {
    String virtType = settings.virtType;
    String instancesPath = settings.instancesPath;
    String who = "instance " + spec.uuid() + " from " + spec.sourceHost() + " to " + lv.host;
    long qemu;
    long libvirt;
    try {
      qemu = lv.conn().getVersion();
      libvirt = lv.conn().getLibVersion();
    } catch (LibvirtException e) {
      throw new HypervisorException(
          "PREPARE_FAILED", "libvirt on " + lv.host + ": " + e.getMessage());
    }
    notOlder(who, spec.sourceHost(), "QEMU", qemu, spec.sourceHypervisorVersion());
    notOlder(who, spec.sourceHost(), "libvirt", libvirt, sourceLibvirtVersion(spec.sourceHost()));
    if (spec.machineType() != null && !spec.machineType().isBlank()) {
      Pointer caps =
          VirtNative.LIB.virConnectGetDomainCapabilities(
              lv.connPtr(), null, null, spec.machineType(), virtType, 0);
      if (caps == null) {
        String msg = VirtNative.LIB.virGetLastErrorMessage();
        throw new HypervisorException(
            "MACHINE_TYPE_UNSUPPORTED",
            who
                + ": "
                + lv.host
                + "'s QEMU ("
                + Versions.format(qemu)
                + ", "
                + virtType
                + ") does not provide machine type "
                + spec.machineType()
                + " of the guest on "
                + spec.sourceHost()
                + " ("
                + msg
                + ")");
      }
      VirtNative.LibC.LIB.free(caps);
    }
    if (spec.cpuXml() != null && !spec.cpuXml().isBlank()) {
      int rc =
          VirtNative.LIB.virConnectCompareHypervisorCPU(
              lv.connPtr(),
              null,
              null,
              spec.machineType(),
              virtType,
              spec.cpuXml(),
              VirtNative.COMPARE_CPU_FAIL_INCOMPATIBLE);
      if (rc <= VirtNative.CPU_COMPARE_INCOMPATIBLE) {
        String msg = VirtNative.LIB.virGetLastErrorMessage();
        boolean incompatible = rc == 0 || (msg != null && msg.contains("incompatible"));
        throw new HypervisorException(
            incompatible ? "CPU_INCOMPATIBLE" : "PREPARE_FAILED",
            who
                + ": "
                + lv.host
                + " cannot provide the guest CPU ("
                + GuestXml.cpuSummary(spec.cpuXml())
                + ") it runs with on "
                + spec.sourceHost()
                + ": "
                + msg);
      }
    }
    if (Boolean.TRUE.equals(spec.sharedStorage())) {
      List<String> peers;
      try {
        peers = SharedStorage.peers(lv.conn(), instancesPath, lv.host);
      } catch (LibvirtException e) {
        throw new HypervisorException(
            "STORAGE_NOT_SHARED",
            who + ": " + lv.host + " cannot read its instance directory: " + e.getMessage());
      }
      if (!peers.contains(spec.sourceHost())) {
        throw new HypervisorException(
            "STORAGE_NOT_SHARED",
            who
                + ": "
                + lv.host
                + " does not see "
                + spec.sourceHost()
                + "'s instance storage ("
                + instancesPath
                + " holds markers of "
                + peers
                + ")");
      }
    }
  }

  /**
   * @throws HypervisorException HYPERVISOR_TOO_OLD if this host's {@code what} is older than the
   *     source's (unknown, null, passes)
   */
  private void notOlder(String who, String sourceHost, String what, long mine, Long source)
      throws HypervisorException {
    if (source != null && source > mine) {
      throw new HypervisorException(
          "HYPERVISOR_TOO_OLD",
          who
              + ": "
              + lv.host
              + "'s "
              + what
              + " "
              + Versions.format(mine)
              + " is older than "
              + sourceHost
              + "'s "
              + Versions.format(source));
    }
  }

  /** The source's libvirt version, asked of its daemon; null when it cannot be asked. */
  private Long sourceLibvirtVersion(String sourceHost) {
    try (Closing c = Closing.to(lv.uriOf(sourceHost))) {
      return c.conn().getLibVersion();
    } catch (HypervisorException | LibvirtException | RuntimeException e) {
      LOG.info(
          "[host {}] libvirt version of {} not compared: {}", lv.host, sourceHost, e.getMessage());
      return null;
    }
  }
}
