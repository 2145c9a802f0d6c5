package io.livemigrate.agent.libvirt;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * Reads the result of the last {@code virDomainStartDirtyRateCalc} from the domain's statistics
 * (group {@code dirtyrate}), which libvirt-java cannot.
 */
final class DirtyRates {
  private DirtyRates() {}

  /**
   * @param status 0 never started, 1 measuring, 2 measured
   * @param startTime when the measured calculation started (QEMU's clock, seconds)
   */
  record Result(int status, long startTime, long mibPerSecond) {
    boolean measured() {
      return status == 2;
    }

    boolean measuring() {
      return status == 1;
    }
  }

  /** The domain's dirty-rate statistics; null when libvirt gives none. */
  static Result read(Pointer dom) {
    PointerByReference ret = new PointerByReference();
    int n =
        VirtNative.LIB.virDomainListGetStats(
            new Pointer[] {dom, null}, VirtNative.STATS_DIRTYRATE, ret, 0);
    if (n <= 0 || ret.getValue() == null) return null;
    try {
      // virDomainStatsRecord { virDomainPtr dom; virTypedParameterPtr params; int nparams; }
      Pointer rec = ret.getValue().getPointer(0);
      Pointer params = rec.getPointer(Native.POINTER_SIZE);
      int nparams = rec.getInt(2L * Native.POINTER_SIZE);
      IntByReference status = new IntByReference();
      if (VirtNative.LIB.virTypedParamsGetInt(params, nparams, "dirtyrate.calc_status", status)
          != 1) {
        return null;
      }
      LongByReference start = new LongByReference(-1);
      LongByReference rate = new LongByReference(-1);
      VirtNative.LIB.virTypedParamsGetLLong(params, nparams, "dirtyrate.calc_start_time", start);
      VirtNative.LIB.virTypedParamsGetLLong(
          params, nparams, "dirtyrate.megabytes_per_second", rate);
      return new Result(status.getValue(), start.getValue(), Math.max(0, rate.getValue()));
    } finally {
      VirtNative.LIB.virDomainStatsRecordListFree(ret.getValue());
    }
  }
}
