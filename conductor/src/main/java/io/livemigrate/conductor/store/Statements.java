package io.livemigrate.conductor.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Prepared statements kept per database connection for the statements that run for every bus
 * message (a migration's row locked, then written). H2 parses every {@code SELECT … FOR UPDATE} and
 * every {@code UPDATE} again on each prepare (it caches only plain queries): a sixth of a loaded
 * conductor's CPU. PostgreSQL's driver prepares on the server and caches by itself, so there the
 * statement is prepared and closed as usual.
 *
 * <p>The cache is on the pool's physical connection (not HikariCP's proxy, which closes its
 * statements when the connection goes back to the pool); a connection is used by one thread at a
 * time, and its statements go with it when the pool retires it.
 */
final class Statements {
  /** Statements per connection: the lock, and the few column sets progress and steps write. */
  private static final int PER_CONNECTION = 8;

  private static final Map<Connection, Map<String, PreparedStatement>> CACHE =
      Collections.synchronizedMap(new WeakHashMap<>());

  @FunctionalInterface
  interface Use<T> {
    T apply(PreparedStatement st) throws SQLException;
  }

  private Statements() {}

  static <T> T with(Tx tx, String sql, Use<T> use) throws SQLException {
    Connection proxy = tx.handle().getConnection();
    if (!tx.h2()) {
      try (PreparedStatement st = proxy.prepareStatement(sql)) {
        return use.apply(st);
      }
    }
    Connection physical = proxy.unwrap(Connection.class);
    Map<String, PreparedStatement> mine = CACHE.computeIfAbsent(physical, c -> lru());
    PreparedStatement st = mine.get(sql);
    if (st == null || st.isClosed()) {
      st = physical.prepareStatement(sql);
      mine.put(sql, st);
    }
    try {
      return use.apply(st);
    } finally {
      st.clearParameters();
    }
  }

  private static Map<String, PreparedStatement> lru() {
    return new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, PreparedStatement> eldest) {
        if (size() <= PER_CONNECTION) return false;
        try {
          eldest.getValue().close();
        } catch (SQLException e) {
          // A statement of a connection that is gone: nothing to free.
        }
        return true;
      }
    };
  }
}
