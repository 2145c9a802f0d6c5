package io.livemigrate.conductor;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Optional;

/** Server-side host drains (evacuate-live), stored so they outlive any conductor. */
public interface Drains {
  /**
   * Starts draining a host: optionally disables it, then live-migrates every ACTIVE or PAUSED
   * server off it through the ordinary saga, retrying failures up to {@code maxRetries}.
   *
   * @return the drain's view; fails with {@link MigrationRefused} for an unknown host or a host
   *     already being drained
   */
  Future<JsonObject> start(
      String host,
      String targetHost,
      boolean blockMigration,
      int maxRetries,
      boolean disable,
      String requestId);

  Future<Optional<JsonObject>> get(String id);

  Future<List<JsonObject>> list();
}
