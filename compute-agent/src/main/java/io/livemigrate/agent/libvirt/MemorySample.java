package io.livemigrate.agent.libvirt;

import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import org.libvirt.LibvirtException;
import org.libvirt.MemoryAddressMode;

/**
 * Estimates how much of a guest's memory a migration would send: QEMU sends a zero page as a few
 * bytes, so a guest's first pass costs its non-zero pages, not its RAM size. A few chunks of guest
 * physical memory (virDomainMemoryPeek, at most 64 KiB a call) are read, spread over the whole of
 * it, and their share of non-zero pages is applied to the RAM size.
 */
final class MemorySample {
  static final int CHUNKS = 32;
  static final int CHUNK = 65536;
  static final int PAGE = 4096;

  private MemorySample() {}

  /** Non-zero bytes of the guest's memory as sampled; null when it cannot be read. */
  static Long nonZeroBytes(org.libvirt.Domain d, long memoryBytes) {
    if (memoryBytes < (long) CHUNKS * CHUNK) return null;
    long step = memoryBytes / CHUNKS;
    ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
    int pages = 0;
    int nonZero = 0;
    try {
      for (int i = 0; i < CHUNKS; i++) {
        long jitter = ThreadLocalRandom.current().nextLong((step - CHUNK) / PAGE + 1) * PAGE;
        buf.clear();
        d.memoryPeek(i * step + jitter, buf, MemoryAddressMode.PHYSICAL);
        for (int p = 0; p < CHUNK; p += PAGE) {
          pages++;
          if (!zero(buf, p)) nonZero++;
        }
      }
    } catch (LibvirtException | RuntimeException e) {
      return null;
    }
    return pages == 0 ? null : (long) ((double) nonZero / pages * memoryBytes);
  }

  private static boolean zero(ByteBuffer b, int from) {
    for (int i = from; i < from + PAGE; i += 8) {
      if (b.getLong(i) != 0) return false;
    }
    return true;
  }
}
