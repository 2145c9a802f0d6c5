package io.livemigrate.agent.libvirt;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libvirt's job-completed event (VIR_DOMAIN_EVENT_ID_JOB_COMPLETED) on this host's connection. It
 * fires where the job ran, so here on the source of an outbound migration, and carries the job's
 * final statistics with the switch-over's downtime, even after post-copy, when the destination
 * keeps none.
 */
final class JobCompletedEvents {
  private static final Logger LOG = LoggerFactory.getLogger(JobCompletedEvents.class);

  /** What the event's typed parameters are read for (all unsigned long long in libvirt). */
  private static final List<String> FIELDS =
      List.of(
          "downtime",
          "time_elapsed",
          "memory_total",
          "memory_processed",
          "memory_iteration",
          "memory_postcopy_requests",
          "disk_total",
          "disk_processed",
          "data_processed");

  private final String host;

  /** The statistics the event carried, by uuid (the source keeps no others). */
  private final Map<String, Map<String, Long>> byUuid = new ConcurrentHashMap<>();

  /**
   * Every registration libvirt still holds. A closed connection lives on while libvirt-java's
   * domains of it wait for their finalizers, and its events keep coming: a callback collected by
   * then would be a freed JNA stub that libvirt jumps into.
   */
  private static final Set<JobCompletedEvents> REGISTERED = ConcurrentHashMap.newKeySet();

  private final VirtNative.JobCompletedCallback callback = this::completed;

  private Pointer conn;

  private int id = -1;

  private JobCompletedEvents(String host) {
    this.host = host;
  }

  /**
   * Registers for the event of every domain on {@code lv}'s connection, and again on each
   * connection that replaces it.
   */
  static JobCompletedEvents register(Libvirt lv) {
    JobCompletedEvents events = new JobCompletedEvents(lv.host);
    events.attach(lv.connPtr());
    lv.onReconnect(c -> events.attach(Libvirt.connPtr(c)));
    return events;
  }

  private synchronized void attach(Pointer c) {
    // The lost connection's registration went with it; the callback stays held (REGISTERED).
    conn = c;
    REGISTERED.add(this);
    id =
        VirtNative.LIB.virConnectDomainEventRegisterAny(
            conn, null, VirtNative.EVENT_ID_JOB_COMPLETED, callback, null, null);
    if (id < 0) {
      LOG.warn(
          "[host {}] no job-completed events (post-copy downtime unknown): {}",
          host,
          VirtNative.LIB.virGetLastErrorMessage());
    }
  }

  private void completed(Pointer c, Pointer dom, Pointer params, int n, Pointer opaque) {
    byte[] buf = new byte[64];
    if (VirtNative.LIB.virDomainGetUUIDString(dom, buf) < 0) return;
    String uuid = Native.toString(buf);
    Map<String, Long> v = new LinkedHashMap<>();
    for (String k : FIELDS) {
      LongByReference r = new LongByReference();
      if (VirtNative.LIB.virTypedParamsGetULLong(params, n, k, r) == 1) v.put(k, r.getValue());
    }
    LOG.info("[host {}] job completed for {}: {}", host, uuid, v);
    byUuid.put(uuid, v);
  }

  /** Ends the registration; call before the connection is closed. */
  synchronized void close() {
    if (id >= 0 && VirtNative.LIB.virConnectDomainEventDeregisterAny(conn, id) == 0) {
      REGISTERED.remove(this);
    }
    id = -1;
  }

  /** Drops what an earlier job of {@code uuid} left, before a new one starts. */
  void forget(String uuid) {
    byUuid.remove(uuid);
  }

  /**
   * The event of {@code uuid}'s job, taken; it may trail the end of the job's API call, so this
   * waits up to {@code timeoutMs} for it. Null if it did not come.
   */
  Map<String, Long> take(String uuid, long timeoutMs) {
    long until = System.nanoTime() + timeoutMs * 1_000_000L;
    while (!byUuid.containsKey(uuid) && System.nanoTime() < until) {
      LockSupport.parkNanos(20_000_000L);
    }
    return byUuid.remove(uuid);
  }
}
