package io.livemigrate.agent.libvirt;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The libvirt C calls libvirt-java 0.5.4 lacks, bound directly to {@code libvirt.so.0}: migrate
 * with typed parameters, start post-copy, set the maximum speed, compare a CPU with what the
 * hypervisor can provide, domain capabilities, dirty-rate measurement, domain statistics and the
 * job-completed event. They take the same native {@code virConnectPtr}/{@code virDomainPtr}
 * libvirt-java uses, so both work on one connection.
 *
 * <p>Every call returns -1 (or null) on failure; {@link #virGetLastErrorMessage} then says why (per
 * thread).
 */
interface VirtNative extends Library {
  VirtNative LIB = Native.load("virt", VirtNative.class);

  // virDomainMigrateFlags
  int LIVE = 1;
  int PEER2PEER = 1 << 1;
  int PERSIST_DEST = 1 << 3;
  int UNDEFINE_SOURCE = 1 << 4;
  int NON_SHARED_INC = 1 << 7;
  int UNSAFE = 1 << 9;
  int COMPRESSED = 1 << 11;
  int AUTO_CONVERGE = 1 << 13;
  int POSTCOPY = 1 << 15;
  int TLS = 1 << 16;
  int PARALLEL = 1 << 17;
  int POSTCOPY_RESUME = 1 << 19;

  // virDomainGetJobStats flags
  int JOB_STATS_COMPLETED = 1;
  int JOB_STATS_KEEP_COMPLETED = 2;

  /** VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE: an incompatible CPU is an error that says why. */
  int COMPARE_CPU_FAIL_INCOMPATIBLE = 1;

  /** virCPUCompareResult. */
  int CPU_COMPARE_INCOMPATIBLE = 0;

  /** VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES. */
  int BASELINE_CPU_EXPAND_FEATURES = 1;

  /** VIR_DOMAIN_STATS_DIRTYRATE. */
  int STATS_DIRTYRATE = 1 << 9;

  /**
   * VIR_DOMAIN_EVENT_ID_JOB_COMPLETED (virDomainEventID). Not 16: that is BLOCK_JOB_2, whose
   * callback takes a disk name where this one takes typed parameters.
   */
  int EVENT_ID_JOB_COMPLETED = 21;

  /** virDomainState: VIR_DOMAIN_RUNNING and VIR_DOMAIN_PAUSED. */
  int DOMAIN_RUNNING = 1;

  int DOMAIN_PAUSED = 3;

  /**
   * virDomainPausedReason VIR_DOMAIN_PAUSED_MIGRATION and VIR_DOMAIN_PAUSED_STARTING_UP: how an
   * incoming migration's domain waits until its transfer completed.
   */
  int PAUSED_MIGRATION = 2;

  int PAUSED_STARTING_UP = 11;

  int virDomainGetState(Pointer dom, IntByReference state, IntByReference reason, int flags);

  int virDomainMigrateToURI3(Pointer dom, String dconnuri, Pointer params, int nparams, int flags);

  int virDomainMigrateStartPostCopy(Pointer dom, int flags);

  /** {@code bandwidth} is an {@code unsigned long} in MiB/s. */
  int virDomainMigrateSetMaxSpeed(Pointer dom, NativeLong bandwidth, int flags);

  int virConnectCompareHypervisorCPU(
      Pointer conn,
      String emulator,
      String arch,
      String machine,
      String virttype,
      String xmlCPU,
      int flags);

  /** Returns a malloc'd string (free with {@link #virFree}-style {@code free}); null on error. */
  Pointer virConnectBaselineHypervisorCPU(
      Pointer conn,
      String emulator,
      String arch,
      String machine,
      String virttype,
      String[] xmlCPUs,
      int ncpus,
      int flags);

  Pointer virConnectGetDomainCapabilities(
      Pointer conn, String emulator, String arch, String machine, String virttype, int flags);

  int virDomainStartDirtyRateCalc(Pointer dom, int seconds, int flags);

  /** {@code doms} is a NULL-terminated array of virDomainPtr. */
  int virDomainListGetStats(Pointer[] doms, int stats, PointerByReference retStats, int flags);

  void virDomainStatsRecordListFree(Pointer stats);

  int virTypedParamsGetLLong(Pointer params, int nparams, String name, LongByReference value);

  int virTypedParamsGetULLong(Pointer params, int nparams, String name, LongByReference value);

  int virTypedParamsGetInt(Pointer params, int nparams, String name, IntByReference value);

  int virTypedParamsAddULLong(
      PointerByReference params,
      IntByReference nparams,
      IntByReference maxparams,
      String name,
      long value);

  int virTypedParamsAddInt(
      PointerByReference params,
      IntByReference nparams,
      IntByReference maxparams,
      String name,
      int value);

  int virTypedParamsAddString(
      PointerByReference params,
      IntByReference nparams,
      IntByReference maxparams,
      String name,
      String value);

  void virTypedParamsFree(Pointer params, int nparams);

  /** virConnectDomainEventJobCompletedCallback. */
  interface JobCompletedCallback extends Callback {
    void invoke(Pointer conn, Pointer dom, Pointer params, int nparams, Pointer opaque);
  }

  int virConnectDomainEventRegisterAny(
      Pointer conn,
      Pointer dom,
      int eventID,
      JobCompletedCallback cb,
      Pointer opaque,
      Pointer freecb);

  int virConnectDomainEventDeregisterAny(Pointer conn, int callbackID);

  /** {@code buf} holds at least VIR_UUID_STRING_BUFLEN (37) bytes. */
  int virDomainGetUUIDString(Pointer dom, byte[] buf);

  String virGetLastErrorMessage();

  /** libc's free, for strings libvirt returns to the caller. */
  interface LibC extends Library {
    LibC LIB = Native.load("c", LibC.class);

    void free(Pointer p);
  }
}
