package io.livemigrate.agent.libvirt;

import com.sun.jna.ptr.IntByReference;
import io.livemigrate.agent.Hypervisor.IncomingSpec;
import io.livemigrate.agent.HypervisorException;
import java.util.Map;
import org.libvirt.DomainInfo;
import org.libvirt.LibvirtException;

/**
 * The destination's side of a migration. libvirt itself creates the incoming domain during the
 * migration's prepare phase and tears down a failed one, so there is nothing to reserve or undo:
 * before, the checks; after, that the guest really runs here.
 */
final class Incoming {
  private final Libvirt lv;
  private final Preflight preflight;

  /** The outbound jobs: a domain migrating away from here may be asked to come back. */
  private final Map<String, MigrationJob> jobs;

  Incoming(Libvirt lv, Preflight preflight, Map<String, MigrationJob> jobs) {
    this.lv = lv;
    this.preflight = preflight;
    this.jobs = jobs;
  }

  /**
   * The destination is checked by libvirt itself during the migration's prepare phase (it refuses a
   * domain it already runs); here the checks before the first byte, and that this host's libvirt
   * answers and does not run it yet.
   *
   * @throws HypervisorException PREPARE_FAILED if the instance already runs here or libvirt fails;
   *     a check's own reason code if it refuses
   */
  void prepare(IncomingSpec spec) throws HypervisorException {
    preflight.check(spec);
    try {
      lv.conn().getVersion();
      for (org.libvirt.Domain d : lv.conn().listAllDomains(1 /* ACTIVE */)) {
        if (d.getUUIDString().equals(spec.uuid()) && !jobs.containsKey(spec.uuid())) {
          throw new HypervisorException(
              "PREPARE_FAILED", "instance " + spec.uuid() + " already runs on " + lv.host);
        }
      }
    } catch (LibvirtException e) {
      throw new HypervisorException(
          "PREPARE_FAILED", "libvirt on " + lv.host + ": " + e.getMessage(), e);
    }
  }

  /**
   * Succeeds only once the domain runs here: an incoming migration's domain is active (it exists,
   * paused) long before its transfer completed, and one whose transfer failed may stay paused.
   *
   * @throws HypervisorException NOT_FOUND if the domain is not here or still waits for its incoming
   *     migration; HYPERVISOR_ERROR if it is here in any other state but running
   */
  void finish(String uuid) throws HypervisorException {
    org.libvirt.Domain d = lv.lookup(lv.conn(), uuid);
    IntByReference state = new IntByReference();
    IntByReference reason = new IntByReference();
    if (Libvirt.withPtr(d, p -> VirtNative.LIB.virDomainGetState(p, state, reason, 0)) < 0) {
      throw new HypervisorException(
          "NOT_FOUND",
          "domain " + uuid + " not on " + lv.host + ": " + VirtNative.LIB.virGetLastErrorMessage());
    }
    if (state.getValue() == VirtNative.DOMAIN_RUNNING) return;
    boolean incoming =
        state.getValue() == VirtNative.DOMAIN_PAUSED
            && (reason.getValue() == VirtNative.PAUSED_MIGRATION
                || reason.getValue() == VirtNative.PAUSED_STARTING_UP);
    if (incoming) {
      throw new HypervisorException(
          "NOT_FOUND",
          "instance "
              + uuid
              + " has not arrived on "
              + lv.host
              + ": its incoming migration has not finished (paused, reason "
              + reason.getValue()
              + ")");
    }
    throw new HypervisorException(
        "HYPERVISOR_ERROR",
        "instance "
            + uuid
            + " is not running on "
            + lv.host
            + " ("
            + stateName(state.getValue())
            + ", reason "
            + reason.getValue()
            + ")");
  }

  private static String stateName(int state) {
    DomainInfo.DomainState[] all = DomainInfo.DomainState.values();
    return state >= 0 && state < all.length ? all[state].name() : "state " + state;
  }
}
