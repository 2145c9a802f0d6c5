package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.bool;
import static io.livemigrate.common.config.Option.choice;
import static io.livemigrate.common.config.Option.integer;
import static io.livemigrate.common.config.Option.str;

import java.util.List;

/**
 * {@code [libvirt]}: live-migration behaviour with Nova's names and defaults, and how to reach
 * libvirt.
 */
public final class LibvirtOptions {
  private LibvirtOptions() {}

  public static final Option COMPLETION_TIMEOUT =
      integer(
          "libvirt",
          "live_migration_completion_timeout",
          800,
          0,
          86400,
          "Seconds per GiB of data (RAM + disks for block migration, each >= 2 GiB) before the"
              + " timeout action; 0 = never.");
  public static final Option TIMEOUT_ACTION =
      choice(
          "libvirt",
          "live_migration_timeout_action",
          "abort",
          List.of("abort", "force_complete"),
          "What to do at the completion timeout: abort, or force_complete (post-copy if"
              + " permitted, else pause).");
  public static final Option PERMIT_POST_COPY =
      bool(
          "libvirt",
          "live_migration_permit_post_copy",
          false,
          "This host may switch its outbound migrations to post-copy.");
  public static final Option PERMIT_AUTO_CONVERGE =
      bool(
          "libvirt",
          "live_migration_permit_auto_converge",
          false,
          "This host may throttle guests so their outbound migrations converge.");
  public static final Option BANDWIDTH =
      integer(
          "libvirt",
          "live_migration_bandwidth",
          0,
          0,
          1_000_000,
          "Maximum migration bandwidth in MiB/s; 0 = hypervisor default.");
  public static final Option DOWNTIME =
      integer(
          "libvirt",
          "live_migration_downtime",
          500,
          100,
          2_000_000,
          "Maximum tolerated downtime in ms, reached at the end of the ramp.");
  public static final Option DOWNTIME_STEPS =
      integer("libvirt", "live_migration_downtime_steps", 10, 3, 1000, "Steps of the ramp.");
  public static final Option DOWNTIME_DELAY =
      integer(
          "libvirt",
          "live_migration_downtime_delay",
          75,
          3,
          86400,
          "Seconds per GiB of data between ramp steps.");
  public static final Option CONNECTION_URI =
      str("libvirt", "connection_uri", "qemu:///system", "libvirt URI of the local hypervisor.");
  public static final Option AUTO_CONVERGE_INITIAL =
      integer(
          "libvirt",
          "live_migration_auto_converge_initial",
          20,
          1,
          99,
          "First CPU throttle (percent) of an auto-converging migration (libvirt's default 20).");
  public static final Option AUTO_CONVERGE_INCREMENT =
      integer(
          "libvirt",
          "live_migration_auto_converge_increment",
          10,
          1,
          99,
          "Throttle increment (percent) while it still does not converge (libvirt's default 10).");
  public static final Option LIVE_MIGRATION_URI =
      str(
          "libvirt",
          "live_migration_uri",
          "qemu+tcp://%s/system",
          "libvirt URI of a migration's destination; %s is the destination's inbound address.");
  public static final Option LIVE_MIGRATION_INBOUND_ADDRS =
      str(
          "libvirt",
          "live_migration_inbound_addrs",
          "",
          "Inbound address per destination host, host=addr,host=addr (unlisted: the host name).");

  // Checks before the first byte, faster and encrypted streams (issue 15, issue 13).
  public static final Option VIRT_TYPE =
      choice(
          "libvirt",
          "virt_type",
          "kvm",
          List.of("kvm", "qemu"),
          "Domain type of this host's guests (qemu = TCG); what the destination compares a guest's"
              + " CPU and machine type against before a migration.");
  public static final Option PARALLEL_CONNECTIONS =
      integer(
          "libvirt",
          "live_migration_parallel_connections",
          1,
          1,
          255,
          "Parallel connections (QEMU multifd) of an outbound migration's memory stream; 1 = one"
              + " stream. With post-copy permitted it needs QEMU 10.1 or later, else one stream is"
              + " used.");
  public static final Option SHARED_STORAGE_BY_MARKER =
      bool(
          "libvirt",
          "live_migration_shared_storage_by_marker",
          false,
          "Trust the hosts' storage markers for a migration without block copy: when the"
              + " destination's marker is in this host's instance directory the storage is the same,"
              + " and the migration is started with VIR_MIGRATE_UNSAFE. libvirt otherwise refuses"
              + " disks without cache=none on a filesystem it does not know as shared (a bind"
              + " mount, a local cluster filesystem). Only for storage whose page cache both hosts"
              + " share or that is coherent across hosts.");
  public static final Option NATIVE_TLS =
      bool(
          "libvirt",
          "live_migration_with_native_tls",
          false,
          "Encrypt the migration stream with QEMU's native TLS (VIR_MIGRATE_TLS); both hosts need"
              + " migrate_tls_x509_cert_dir in qemu.conf with a CA and their certificates.");
  public static final Option COMPRESSION =
      choice(
          "libvirt",
          "live_migration_compression",
          "none",
          List.of("none", "xbzrle", "zstd"),
          "Compression of an outbound migration's memory stream (VIR_MIGRATE_COMPRESSED): xbzrle"
              + " sends only the changed bytes of re-dirtied pages; zstd (multifd, needs libvirt 9.4"
              + " or later and live_migration_parallel_connections > 1) compresses every page.");
  public static final Option COMPRESSION_LEVEL =
      integer(
          "libvirt",
          "live_migration_compression_level",
          1,
          0,
          20,
          "zstd level of live_migration_compression = zstd (1 fastest, 20 smallest).");
  public static final Option DIRTY_RATE_CALC =
      integer(
          "libvirt",
          "dirty_rate_calc_period",
          1,
          0,
          60,
          "Seconds of each dirty-rate measurement of a running guest (virDomainStartDirtyRateCalc),"
              + " taken at most once per report interval and never during a migration; 0 = off.");
}
