package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.integer;
import static io.livemigrate.common.config.Option.str;

/** {@code [api]}: the conductor's Nova-compatible REST API. */
public final class ApiOptions {
  private ApiOptions() {}

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
  public static final Option API_SSL_CERT_FILE =
      str(
          "api",
          "ssl_cert_file",
          "",
          "PEM certificate (chain) of the API; set with ssl_key_file to serve HTTPS.");
  public static final Option API_SSL_KEY_FILE =
      str("api", "ssl_key_file", "", "PEM private key of the API's certificate.");
}
