package io.livemigrate.conductor.store;

import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.Config;

/**
 * Where the store is and how the pool treats it.
 *
 * @param connectionTimeoutMs how long a caller waits for a connection before the database counts as
 *     unreachable
 */
public record StoreSettings(
    String url, String user, String password, int poolSize, long connectionTimeoutMs) {

  public StoreSettings {
    user = user == null ? "" : user;
    password = password == null ? "" : password;
  }

  /** A store with the default pool, for tests and tools. */
  public static StoreSettings of(String url, String user, String password) {
    return new StoreSettings(url, user, password, 4, 2000);
  }

  public static StoreSettings from(Config c) {
    return new StoreSettings(
        c.string(ConductorOptions.STORE_URL),
        c.string(ConductorOptions.STORE_USER),
        c.string(ConductorOptions.STORE_PASSWORD),
        c.integer(ConductorOptions.STORE_POOL_SIZE),
        c.longValue(ConductorOptions.STORE_CONNECTION_TIMEOUT_MS));
  }
}
