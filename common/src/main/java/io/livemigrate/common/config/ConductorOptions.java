package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.bool;
import static io.livemigrate.common.config.Option.choice;
import static io.livemigrate.common.config.Option.integer;
import static io.livemigrate.common.config.Option.str;

import java.util.List;

/** {@code [conductor]}: the migration saga's store, step deadlines and convergence policy. */
public final class ConductorOptions {
  private ConductorOptions() {}

  public static final Option QUEUE_RETRY_MS =
      integer(
          "conductor",
          "queue_retry_ms",
          1000,
          10,
          60_000,
          "Milliseconds a migration waits, queued, before asking again when its source or the"
              + " cluster is at its live-migration limit.");

  // Convergence policy.
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

  // The store and step deadlines.
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
}
