package io.livemigrate.conductor.api.keystone;

import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.KeystoneOptions;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code [keystone_authtoken]}: where Keystone is, the API's own service credentials, and how long
 * validated tokens are trusted.
 *
 * @param identityUrl Keystone's v3 base URL, ending in {@code /v3} (no slash after it)
 * @param challenge the WWW-Authenticate value of a 401: {@code Keystone uri="..."}
 */
public record KeystoneSettings(
    String identityUrl,
    String challenge,
    String username,
    String password,
    String projectName,
    String userDomainName,
    String projectDomainName,
    long cacheTimeMs,
    int cacheSize,
    long timeoutMs,
    int maxRetries) {

  /**
   * The settings, or null when {@code auth_url} is empty (Keystone not used).
   *
   * @throws IllegalArgumentException listing what is missing or malformed
   */
  public static KeystoneSettings from(Config c) {
    String authUrl = c.string(KeystoneOptions.KEYSTONE_AUTH_URL).strip();
    if (authUrl.isEmpty()) return null;
    List<String> problems = new ArrayList<>();
    checkUrl(authUrl, KeystoneOptions.KEYSTONE_AUTH_URL.key(), problems);
    String www = c.string(KeystoneOptions.KEYSTONE_WWW_AUTHENTICATE_URI).strip();
    if (www.isEmpty()) {
      www = authUrl;
    } else {
      checkUrl(www, KeystoneOptions.KEYSTONE_WWW_AUTHENTICATE_URI.key(), problems);
    }
    for (var o :
        List.of(
            KeystoneOptions.KEYSTONE_USERNAME,
            KeystoneOptions.KEYSTONE_PASSWORD,
            KeystoneOptions.KEYSTONE_PROJECT_NAME,
            KeystoneOptions.KEYSTONE_USER_DOMAIN_NAME,
            KeystoneOptions.KEYSTONE_PROJECT_DOMAIN_NAME)) {
      if (c.string(o).isBlank()) problems.add(o.key() + " must be set when auth_url is");
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException("[keystone_authtoken]: " + String.join("; ", problems));
    }
    return new KeystoneSettings(
        v3(authUrl),
        "Keystone uri=\"" + www + "\"",
        c.string(KeystoneOptions.KEYSTONE_USERNAME),
        c.string(KeystoneOptions.KEYSTONE_PASSWORD),
        c.string(KeystoneOptions.KEYSTONE_PROJECT_NAME),
        c.string(KeystoneOptions.KEYSTONE_USER_DOMAIN_NAME),
        c.string(KeystoneOptions.KEYSTONE_PROJECT_DOMAIN_NAME),
        c.longValue(KeystoneOptions.KEYSTONE_TOKEN_CACHE_TIME) * 1000,
        c.integer(KeystoneOptions.KEYSTONE_TOKEN_CACHE_SIZE),
        c.longValue(KeystoneOptions.KEYSTONE_HTTP_CONNECT_TIMEOUT) * 1000,
        c.integer(KeystoneOptions.KEYSTONE_HTTP_REQUEST_MAX_RETRIES));
  }

  /** Keystone's v3 root: Nova's auth_url is usually unversioned ({@code http://host:5000}). */
  static String v3(String authUrl) {
    String u = authUrl;
    while (u.endsWith("/")) u = u.substring(0, u.length() - 1);
    return u.endsWith("/v3") ? u : u + "/v3";
  }

  private static void checkUrl(String url, String key, List<String> problems) {
    try {
      URI u = URI.create(url);
      if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme()) || u.getHost() == null) {
        problems.add(key + ": '" + url + "' is not an http(s) URL");
      }
    } catch (IllegalArgumentException e) {
      problems.add(key + ": '" + url + "' is not a URL");
    }
  }

  @Override
  public String toString() {
    // Never print the password.
    return "KeystoneSettings[" + identityUrl + ", user " + username + "@" + projectName + "]";
  }
}
