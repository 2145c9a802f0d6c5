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

  // [libvirt] checks before the first byte, faster and encrypted streams (issue 15, issue 13)
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
  public static final Option INSTANCES_PATH =
      str(
          "DEFAULT",
          "instances_path",
          "/var/lib/libvirt/images",
          "Directory of instance disks (a libvirt dir pool's target). Each host keeps a marker"
              + " file there; a host that sees another's marker shares its storage.");

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
          "/var/lib/livemigrate/compute",
          "Where the agent journals its outbound migrations (start command, outcome until the"
              + " broker confirms it, its epoch), to re-attach to them after a restart and lose no"
              + " outcome. The all-in-one uses its data directory. Empty = no journal (not"
              + " recommended: a restarted agent then forgets its running migrations).");

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
  public static final Option STORE_POOL_SIZE =
      integer(
          "conductor",
          "store_pool_size",
          8,
          1,
          200,
          "Connections in the store's pool: how many messages, API calls and deadlines this"
              + " conductor handles at once (each in one transaction).");
  public static final Option STORE_CONNECTION_TIMEOUT_MS =
      integer(
          "conductor",
          "store_connection_timeout_ms",
          2000,
          250,
          60_000,
          "Milliseconds a transaction waits for a connection before the store counts as"
              + " unreachable (then /health says so and messages wait to be retried).");
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
      integer(
          "ops",
          "port",
          0,
          0,
          65535,
          "Base port of /metrics and /health on this host: the conductor listens on it, the"
              + " scheduler on port + 1, a compute agent on port + 2 (as the all-in-one numbers"
              + " them), so services sharing a host and a file never collide; 0 = any free port.");

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

  // [simulated] the host and guests of a simulated compute agent (serve compute-agent)
  public static final Option SIM_VCPUS =
      integer("simulated", "vcpus", 16, 1, 100_000, "Physical CPUs a simulated host reports.");
  public static final Option SIM_MEMORY_MB =
      integer(
          "simulated", "memory_mb", 32768, 1, 1L << 40, "Memory a simulated host reports, MiB.");
  public static final Option SIM_DISK_GB =
      integer(
          "simulated", "disk_gb", 500, 0, 1L << 30, "Local disk a simulated host reports, GiB.");
  public static final Option SIM_GUESTS =
      str(
          "simulated",
          "guests",
          "",
          "Guests running on a simulated host at start: name:key=value,...;name:... with keys"
              + " uuid (default: derived from the name), vcpus (1), memory_mb (2048), disk_gb (20),"
              + " project (admin), user (admin), flavor (m1.small), dirty_rate_mibps (0),"
              + " working_set_mib (0 = a quarter of memory).");
  public static final Option SIM_STATE_FILE =
      str(
          "simulated",
          "state_file",
          "",
          "Where a simulated host keeps its domains across agent restarts, as libvirtd keeps its"
              + " own (jobs are not kept); empty = a restart starts from the configured guests.");
  public static final Option SIM_FABRIC_DIR =
      str(
          "simulated",
          "fabric_dir",
          "",
          "Directory shared by the simulated hosts of one lab (one machine): a completed transfer"
              + " hands its guest to the destination through it, so the destination runs the guest"
              + " only once it arrived. Empty = this host is not linked, and its post-migration"
              + " trusts the conductor.");
  public static final Option SIM_GUESTS_FILE =
      str(
          "simulated",
          "guests_file",
          "",
          "File of more guests for a simulated host, one JSON object per line with the keys of"
              + " guests plus name, e.g. {\"name\": \"vm1\", \"memory_mb\": 2048}; # starts a"
              + " comment line.");
  // [keystone_authtoken]: keystonemiddleware's names, so a nova.conf section carries over.
  public static final Option KEYSTONE_AUTH_URL =
      str(
          "keystone_authtoken",
          "auth_url",
          "",
          "Keystone URL (e.g. http://controller:5000, /v3 is added when missing). Set = the API"
              + " validates X-Auth-Token with Keystone, after the token file and admin token.");
  public static final Option KEYSTONE_WWW_AUTHENTICATE_URI =
      str(
          "keystone_authtoken",
          "www_authenticate_uri",
          "",
          "Keystone URL the API's 401 answers point clients to (WWW-Authenticate: Keystone"
              + " uri=...); empty = auth_url.");
  public static final Option KEYSTONE_AUTH_TYPE =
      choice(
          "keystone_authtoken",
          "auth_type",
          "password",
          List.of("password"),
          "How the API authenticates itself to Keystone: password (the service user below).");
  public static final Option KEYSTONE_USERNAME =
      str("keystone_authtoken", "username", "", "The API's service user.");
  public static final Option KEYSTONE_PASSWORD =
      str("keystone_authtoken", "password", "", "The service user's password.");
  public static final Option KEYSTONE_PROJECT_NAME =
      str("keystone_authtoken", "project_name", "service", "The service user's project.");
  public static final Option KEYSTONE_USER_DOMAIN_NAME =
      str("keystone_authtoken", "user_domain_name", "Default", "The service user's domain.");
  public static final Option KEYSTONE_PROJECT_DOMAIN_NAME =
      str(
          "keystone_authtoken",
          "project_domain_name",
          "Default",
          "The domain of the service user's project.");
  public static final Option KEYSTONE_TOKEN_CACHE_TIME =
      integer(
          "keystone_authtoken",
          "token_cache_time",
          300,
          0,
          86400,
          "Seconds a validated token is trusted without asking Keystone again (never past its"
              + " expiry); a revoked token stops working within this time. 0 = no cache.");
  public static final Option KEYSTONE_TOKEN_CACHE_SIZE =
      integer(
          "keystone_authtoken",
          "token_cache_size",
          10_000,
          1,
          10_000_000,
          "Validated tokens kept at most; the least recently used one goes first.");
  public static final Option KEYSTONE_HTTP_CONNECT_TIMEOUT =
      integer(
          "keystone_authtoken",
          "http_connect_timeout",
          5,
          1,
          600,
          "Seconds Keystone has to answer one request (connect included); then the API answers"
              + " 503.");
  public static final Option KEYSTONE_HTTP_REQUEST_MAX_RETRIES =
      integer(
          "keystone_authtoken",
          "http_request_max_retries",
          3,
          0,
          100,
          "Retries of a Keystone request whose connection failed (a pooled connection the server"
              + " closed, a refused connect) before the API answers 503.");

  // [bus] identities, delivery and TLS (issue 13; README "The bus: identities, delivery and TLS")
  public static final Option VERIFY_IDENTITY =
      choice(
          "bus",
          "verify_identity",
          "auto",
          List.of("auto", "true", "false"),
          "Check the broker-validated user_id of every message against who may send it. auto: on"
              + " when this service logs in under its own identity (conductor, scheduler,"
              + " compute-<host>), off when every service shares one login (guest in dev).");
  public static final Option IDENTITY_PREFIX =
      str(
          "bus",
          "identity_prefix",
          "",
          "Prefix of the broker user names (<prefix>conductor, <prefix>compute-<host>), for"
              + " several deployments on one broker.");
  public static final Option QUEUE_TYPE =
      choice(
          "bus",
          "queue_type",
          "quorum",
          List.of("quorum", "classic"),
          "Type of the queues the services declare: quorum (RabbitMQ: replicated, with"
              + " delivery_limit) or classic. The embedded broker has only classic queues and"
              + " ignores this.");
  public static final Option DELIVERY_LIMIT =
      integer(
          "bus",
          "delivery_limit",
          20,
          2,
          10_000,
          "Quorum queues: deliveries after which the broker itself parks a message (one whose"
              + " consumer dies on it every time). Returns on a lost connection count too, so keep"
              + " it well above max_deliveries.");
  public static final Option BUS_SSL_CA_FILE =
      str(
          "bus",
          "ssl_ca_file",
          "",
          "amqps:// only: PEM file of the CA(s) the broker's certificate must chain to; empty ="
              + " the JVM's trust store.");
  public static final Option BUS_SSL_CERT_FILE =
      str("bus", "ssl_cert_file", "", "amqps:// only: PEM client certificate (optional).");
  public static final Option BUS_SSL_KEY_FILE =
      str("bus", "ssl_key_file", "", "amqps:// only: PEM private key of ssl_cert_file.");
  public static final Option BUS_SSL_VERIFY_HOSTNAME =
      bool(
          "bus",
          "ssl_verify_hostname",
          true,
          "amqps:// only: the broker's certificate must name the host of transport_url.");
  public static final Option API_SSL_CERT_FILE =
      str(
          "api",
          "ssl_cert_file",
          "",
          "PEM certificate (chain) of the API; set with ssl_key_file to serve HTTPS.");
  public static final Option API_SSL_KEY_FILE =
      str("api", "ssl_key_file", "", "PEM private key of the API's certificate.");
  public static final Option OPS_SSL_CERT_FILE =
      str(
          "ops",
          "ssl_cert_file",
          "",
          "PEM certificate of /metrics and /health; set with ssl_key_file to serve HTTPS.");
  public static final Option OPS_SSL_KEY_FILE =
      str("ops", "ssl_key_file", "", "PEM private key of the ops certificate.");
  public static final Option OPS_SSL_CA_FILE =
      str(
          "ops",
          "ssl_ca_file",
          "",
          "PEM CA file: when set, scrapers must present a client certificate it signed.");
  public static final Option PEERS =
      str(
          "compute",
          "peers",
          "",
          "Compute hosts this agent may migrate to or from (comma-separated), besides those named"
              + " in [libvirt] live_migration_inbound_addrs. Both empty = any well-formed host"
              + " name (the conductor's inventory is then the only check).");

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
