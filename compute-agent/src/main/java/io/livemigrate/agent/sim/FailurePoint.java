package io.livemigrate.agent.sim;

/**
 * Where {@link SimulatedHypervisor#script} makes the simulated hypervisor fail, to exercise the
 * conductor's error paths.
 */
public enum FailurePoint {
  /** {@code prepareIncoming} fails with PREPARE_FAILED and reserves nothing. */
  PREPARE,
  /** {@code migrate} throws HYPERVISOR_ERROR before a job starts. */
  MIGRATE_START,
  /**
   * The job fails with HYPERVISOR_ERROR at the first tick that finds more than half of the memory
   * sent (so it fires for every matching job, instant guests included); the domain stays on the
   * source, running.
   */
  MIGRATE_MIDWAY,
  /** {@code finishIncoming} throws HYPERVISOR_ERROR and creates nothing. */
  FINISH_INCOMING,
  /** {@code abortJob} returns normally but the job keeps running (a hung QEMU monitor). */
  ABORT_IGNORED
}
