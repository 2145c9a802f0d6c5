package io.livemigrate.agent.libvirt;

/**
 * The {@code [libvirt]} options the driver's parts read. The facade's builder-style setters change
 * them after construction, so every part reads them at the time of use.
 */
final class Settings {
  /** Auto-converge's first CPU throttle and its step, percent. */
  volatile int autoConvergeInitial = 20;

  volatile int autoConvergeIncrement = 10;

  /** The domain type of this host's guests: {@code kvm} or {@code qemu}. */
  volatile String virtType = "kvm";

  /** Multifd connections of an outbound migration. */
  volatile int parallelConnections = 1;

  volatile boolean nativeTls;

  /** Whether markers that prove shared storage allow VIR_MIGRATE_UNSAFE. */
  volatile boolean sharedStorageByMarker;

  /** {@code none}, {@code xbzrle} or {@code zstd} (at {@link #compressionLevel}). */
  volatile String compression = "none";

  volatile int compressionLevel = 1;

  /** Seconds of each dirty-rate measurement of a running guest; 0 = none. */
  volatile int dirtyRateCalcSeconds = 1;

  /** The directory of instance disks (its markers tell who shares it). */
  volatile String instancesPath = "/var/lib/libvirt/images";
}
