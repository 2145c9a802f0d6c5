package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.integer;
import static io.livemigrate.common.config.Option.str;

/** {@code [ops]}: {@code /metrics} and {@code /health} of every service. */
public final class OpsOptions {
  private OpsOptions() {}

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
}
