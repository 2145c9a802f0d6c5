package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.bool;
import static io.livemigrate.common.config.Option.choice;
import static io.livemigrate.common.config.Option.decimal;
import static io.livemigrate.common.config.Option.integer;
import static io.livemigrate.common.config.Option.str;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Every configuration key of every service. Nova's names and defaults where Nova has the key. */
public final class Options {
  private Options() {}

  // [DEFAULT]
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

  // [libvirt]
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

  // [compute]
  public static final Option HYPERVISOR =
      choice(
          "compute",
          "hypervisor",
          "simulated",
          List.of("simulated", "libvirt"),
          "Hypervisor driver of this compute agent.");
  public static final Option PROGRESS_INTERVAL_MS =
      integer(
          "compute",
          "progress_interval_ms",
          1000,
          50,
          60_000,
          "Milliseconds between progress events of a running migration.");

  public static final Option STATE_DIR =
      str(
          "compute",
          "state_dir",
          "",
          "Where the agent journals its running migrations, to re-attach to them after a restart;"
              + " empty = no journal.");

  // [simulated]
  public static final Option SIM_LINK_MIBPS =
      integer(
          "simulated",
          "link_bandwidth_mibps",
          1024,
          1,
          1_000_000,
          "Usable link bandwidth of a simulated host, MiB/s.");
  public static final Option SIM_TICK_MS =
      integer("simulated", "tick_ms", 100, 1, 10_000, "Step of the simulated pre-copy model.");

  // [scheduler]
  public static final Option CLUSTER_MAX_LIVE_MIGRATIONS =
      integer(
          "scheduler",
          "max_concurrent_live_migrations",
          0,
          0,
          100_000,
          "Live migrations in flight in the whole cluster (0 = unlimited); more wait queued.");
  public static final Option RAM_WEIGHT_MULTIPLIER =
      decimal("scheduler", "ram_weight_multiplier", 1.0, "Weight of free RAM (prefer emptier).");
  public static final Option CPU_WEIGHT_MULTIPLIER =
      decimal("scheduler", "cpu_weight_multiplier", 1.0, "Weight of free vCPUs.");
  public static final Option MIGRATION_WEIGHT_MULTIPLIER =
      decimal(
          "scheduler",
          "migration_weight_multiplier",
          1.0,
          "Weight of few in-flight migrations on a host (inbound + outbound).");
  public static final Option QUEUE_RETRY_MS =
      integer(
          "conductor",
          "queue_retry_ms",
          1000,
          10,
          60_000,
          "Milliseconds a migration waits, queued, before asking again when its source or the"
              + " cluster is at its live-migration limit.");

  // [conductor] convergence policy
  public static final Option POLICY_PROFILE =
      choice(
          "conductor",
          "policy_profile",
          "default",
          List.of("default", "recommended"),
          "default: Nova's behaviour (downtime ramp, completion timeout). recommended: also stall"
              + " detection and escalation as soon as the prediction says pre-copy cannot finish"
              + " in time.");
  public static final Option STALL_WINDOW =
      integer(
          "conductor",
          "live_migration_stall_window",
          0,
          0,
          86400,
          "Seconds without a new low of remaining bytes that count as a stall (then the timeout"
              + " action); 0 = off, or 30 in the recommended profile.");
  public static final Option ESCALATION_GRACE =
      integer(
          "conductor",
          "escalation_grace",
          5,
          1,
          3600,
          "Seconds an escalation step of the recommended profile gets before the next one.");
  public static final Option PERMIT_PAUSE =
      bool(
          "conductor",
          "live_migration_permit_pause",
          true,
          "The recommended profile may pause a guest to finish when post-copy is not permitted.");

  // [conductor]
  public static final Option STORE_URL =
      str(
          "conductor",
          "store_url",
          "jdbc:h2:file:./data/livemigrate",
          "JDBC URL of the store: jdbc:h2:... or jdbc:postgresql://...");
  public static final Option STORE_USER = str("conductor", "store_user", "", "Store user.");
  public static final Option STORE_PASSWORD =
      str("conductor", "store_password", "", "Store password.");
  public static final Option PREPARE_TIMEOUT =
      integer(
          "conductor",
          "prepare_timeout",
          60,
          1,
          3600,
          "Seconds the scheduler and the destination have to answer select/prepare.");
  public static final Option START_TIMEOUT =
      integer(
          "conductor",
          "start_timeout",
          30,
          1,
          3600,
          "Seconds the source has to report the first progress of a started migration.");
  public static final Option POST_TIMEOUT =
      integer(
          "conductor",
          "post_timeout",
          60,
          1,
          3600,
          "Seconds the destination has to confirm post-migration.");
  public static final Option ROLLBACK_TIMEOUT =
      integer(
          "conductor",
          "rollback_timeout",
          60,
          1,
          3600,
          "Seconds an agent has to confirm an abort or rollback before the migration is marked"
              + " error.");

  // [api]
  public static final Option API_LISTEN =
      str("api", "listen", "127.0.0.1", "Address of the Nova-compatible API.");
  public static final Option API_PORT =
      integer("api", "port", 8774, 0, 65535, "Port of the Nova-compatible API.");
  public static final Option API_TOKEN_FILE =
      str(
          "api",
          "token_file",
          "",
          "File of API tokens, one per line: sha256-hex-of-token project_id user_id role[,role]."
              + " Only hashes are stored. Empty = only the admin token (LIVEMIGRATE_ADMIN_TOKEN).");

  // [ops]
  public static final Option OPS_LISTEN =
      str("ops", "listen", "127.0.0.1", "Address of /metrics and /health.");
  public static final Option OPS_PORT =
      integer("ops", "port", 0, 0, 65535, "Port of /metrics and /health (0 = any free port).");

  // [bus]
  public static final Option PREFETCH =
      integer("bus", "prefetch", 64, 1, 10_000, "Unacknowledged messages a consumer may hold.");
  public static final Option CONFIRM_TIMEOUT_MS =
      integer(
          "bus",
          "confirm_timeout_ms",
          5000,
          100,
          600_000,
          "Milliseconds to wait for the broker to confirm a publish.");
  public static final Option RECONNECT_INTERVAL_MS =
      integer(
          "bus",
          "reconnect_interval_ms",
          500,
          50,
          60_000,
          "Milliseconds between reconnect attempts.");
  public static final Option MAX_DELIVERIES =
      integer(
          "bus",
          "max_deliveries",
          5,
          1,
          1000,
          "Deliveries of a message whose handler keeps failing before it is parked.");

  /** All keys, by {@code section.name}. */
  public static final Map<String, Option> ALL = index();

  private static Map<String, Option> index() {
    Map<String, Option> m = new LinkedHashMap<>();
    for (var f : Options.class.getFields()) {
      if (f.getType() == Option.class) {
        try {
          Option o = (Option) f.get(null);
          m.put(o.key(), o);
        } catch (IllegalAccessException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    return m;
  }
}
