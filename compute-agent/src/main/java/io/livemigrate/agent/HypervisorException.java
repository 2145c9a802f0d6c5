package io.livemigrate.agent;

/**
 * A hypervisor operation failed; {@code reason} is a conductor reason code. Besides the generic
 * ones (HYPERVISOR_ERROR, PREPARE_FAILED, NOT_FOUND, NO_JOB, CANCELLED), a destination refuses
 * before the first byte with CPU_INCOMPATIBLE (it cannot provide the guest's CPU),
 * MACHINE_TYPE_UNSUPPORTED (its QEMU lacks the guest's machine type), HYPERVISOR_TOO_OLD (its QEMU
 * or libvirt is older than the source's) or STORAGE_NOT_SHARED (a shared-storage migration, but it
 * does not see the source's instance storage).
 */
public class HypervisorException extends Exception {
  private static final long serialVersionUID = 1L;
  private final String reason;

  public HypervisorException(String reason, String message) {
    super(message);
    this.reason = reason;
  }

  public HypervisorException(String reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  public String reason() {
    return reason;
  }
}
