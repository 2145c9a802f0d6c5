package io.livemigrate.agent.libvirt;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The few libvirt C calls libvirt-java 0.5.4 lacks, bound directly to {@code libvirt.so.0}: migrate
 * with typed parameters, start post-copy and set the maximum speed. They take the same native
 * {@code virDomainPtr} libvirt-java uses, so both work on one connection.
 *
 * <p>Every call returns -1 on failure; {@link #virGetLastErrorMessage} then says why (per thread).
 */
interface VirtNative extends Library {
  VirtNative LIB = Native.load("virt", VirtNative.class);

  // virDomainMigrateFlags
  int LIVE = 1;
  int PEER2PEER = 1 << 1;
  int PERSIST_DEST = 1 << 3;
  int UNDEFINE_SOURCE = 1 << 4;
  int NON_SHARED_INC = 1 << 7;
  int AUTO_CONVERGE = 1 << 13;
  int POSTCOPY = 1 << 15;

  // virDomainGetJobStats flags
  int JOB_STATS_COMPLETED = 1;
  int JOB_STATS_KEEP_COMPLETED = 2;

  int virDomainMigrateToURI3(Pointer dom, String dconnuri, Pointer params, int nparams, int flags);

  int virDomainMigrateStartPostCopy(Pointer dom, int flags);

  /** {@code bandwidth} is an {@code unsigned long} in MiB/s. */
  int virDomainMigrateSetMaxSpeed(Pointer dom, NativeLong bandwidth, int flags);

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

  void virTypedParamsFree(Pointer params, int nparams);

  String virGetLastErrorMessage();
}
