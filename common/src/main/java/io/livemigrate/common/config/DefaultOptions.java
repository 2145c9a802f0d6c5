package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.decimal;
import static io.livemigrate.common.config.Option.integer;
import static io.livemigrate.common.config.Option.str;

/** {@code [DEFAULT]}: identity, broker and shared limits, as in nova.conf's {@code [DEFAULT]}. */
public final class DefaultOptions {
  private DefaultOptions() {}

  public static final Option HOST =
      str("DEFAULT", "host", "", "This service's host name; empty = the machine's host name.");
  public static final Option TRANSPORT_URL =
      str(
          "DEFAULT",
          "transport_url",
          "amqp://guest:guest@127.0.0.1:5672",
          "RabbitMQ URL (AMQP 0-9-1).");
  public static final Option BUS_NAMESPACE =
      str(
          "DEFAULT",
          "bus_namespace",
          "livemigrate",
          "Prefix of every exchange and queue, so several deployments can share one broker.");
  public static final Option REPORT_INTERVAL =
      integer("DEFAULT", "report_interval", 10, 1, 3600, "Seconds between agent heartbeats.");
  public static final Option SERVICE_DOWN_TIME =
      integer(
          "DEFAULT",
          "service_down_time",
          60,
          1,
          86400,
          "Seconds without a heartbeat after which a service counts as down.");
  public static final Option MAX_CONCURRENT_LIVE_MIGRATIONS =
      integer(
          "DEFAULT",
          "max_concurrent_live_migrations",
          1,
          0,
          1000,
          "Outbound live migrations one compute host runs at once (0 = unlimited).");
  public static final Option MIGRATE_MAX_RETRIES =
      integer(
          "DEFAULT",
          "migrate_max_retries",
          -1,
          -1,
          1000,
          "Destinations tried after a failed prepare; -1 = until no host is left.");
  public static final Option MAX_CONCURRENT_INBOUND_LIVE_MIGRATIONS =
      integer(
          "DEFAULT",
          "max_concurrent_inbound_live_migrations",
          0,
          0,
          1000,
          "Inbound live migrations one compute host takes at once (0 = unlimited). Nova has no"
              + " such limit; ours keeps a drained cluster from piling onto one host.");
  public static final Option CPU_ALLOCATION_RATIO =
      decimal("DEFAULT", "cpu_allocation_ratio", 4.0, "Virtual CPUs per physical CPU.");
  public static final Option RAM_ALLOCATION_RATIO =
      decimal("DEFAULT", "ram_allocation_ratio", 1.0, "Virtual RAM per physical RAM.");
  public static final Option DISK_ALLOCATION_RATIO =
      decimal("DEFAULT", "disk_allocation_ratio", 1.0, "Virtual disk per physical disk.");
  public static final Option AVAILABILITY_ZONE =
      str("DEFAULT", "default_availability_zone", "nova", "Zone a compute host reports.");
  public static final Option INSTANCES_PATH =
      str(
          "DEFAULT",
          "instances_path",
          "/var/lib/libvirt/images",
          "Directory of instance disks (a libvirt dir pool's target). Each host keeps a marker"
              + " file there; a host that sees another's marker shares its storage.");
}
