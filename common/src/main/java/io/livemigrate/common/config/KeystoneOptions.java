package io.livemigrate.common.config;

import static io.livemigrate.common.config.Option.choice;
import static io.livemigrate.common.config.Option.integer;
import static io.livemigrate.common.config.Option.str;

import java.util.List;

/**
 * {@code [keystone_authtoken]}: keystonemiddleware's names, so a nova.conf section carries over.
 */
public final class KeystoneOptions {
  private KeystoneOptions() {}

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
}
