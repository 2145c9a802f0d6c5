package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.bool;
import static io.livemigrate.common.config.Option.choice;
import static io.livemigrate.common.config.Option.integer;
import static io.livemigrate.common.config.Option.str;

import java.util.List;

/** {@code [bus]}: the RabbitMQ bus adapter. */
public final class BusOptions {
  private BusOptions() {}

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

  // Identities, delivery and TLS (issue 13; README "The bus: identities, delivery and TLS").
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
}
