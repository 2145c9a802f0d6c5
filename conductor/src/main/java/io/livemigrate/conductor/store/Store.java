package io.livemigrate.conductor.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.livemigrate.common.bus.TransientFailure;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.concurrent.ThreadLocalRandom;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.transaction.TransactionIsolationLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The conductor's store, the single source of truth of every conductor sharing it: PostgreSQL in
 * production, an H2 file for the all-in-one. A HikariCP pool (connections validated, replaced after
 * a database restart), Flyway for the schema ({@code V<n>__*.sql} beside this class), Jdbi for
 * statements.
 *
 * <p>Blocking: call it from a worker thread. Thread-safe: each {@link #tx} runs on a connection of
 * its own. Failure contract of {@link #tx}: conflicts between concurrent transactions (deadlock,
 * serialization failure, a duplicate key raced in by another conductor) are retried here; an
 * unreachable database surfaces as {@link TransientFailure} (callers wait and retry, nothing is
 * parked); anything else is a bug or bad data and propagates as is.
 */
public final class Store implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Store.class);
  private static final int CONFLICT_RETRIES = 8;

  private final HikariDataSource pool;
  private final Jdbi jdbi;
  private final boolean h2;
  private final StoreHealth health = new StoreHealth();

  /**
   * Whether commits are followed by a CHECKPOINT (H2): see {@link #flush}. Off when the user may
   * not checkpoint.
   */
  private volatile boolean flushCommits;

  private Store(HikariDataSource pool, boolean h2) {
    this.pool = pool;
    this.jdbi = Jdbi.create(pool);
    this.h2 = h2;
    this.flushCommits = h2;
  }

  /**
   * Opens the pool and brings the schema up to date.
   *
   * @throws TransientFailure when the database cannot be reached
   */
  public static Store open(StoreSettings s) {
    HikariConfig c = new HikariConfig();
    c.setJdbcUrl(h2Url(s.url()));
    if (!s.user().isEmpty()) c.setUsername(s.user());
    if (!s.password().isEmpty()) c.setPassword(s.password());
    c.setMaximumPoolSize(s.poolSize());
    c.setMinimumIdle(Math.min(2, s.poolSize()));
    // A caller waits this long for a connection; beyond that the database counts as unreachable.
    c.setConnectionTimeout(s.connectionTimeoutMs());
    c.setValidationTimeout(Math.min(1000, s.connectionTimeoutMs()));
    c.setKeepaliveTime(30_000);
    c.setPoolName("livemigrate-store");
    c.setAutoCommit(true);
    // Start even if the database is down for a moment: the pool fills when it returns.
    c.setInitializationFailTimeout(-1);
    HikariDataSource ds = new HikariDataSource(c);
    boolean isH2 = s.url().startsWith("jdbc:h2:");
    Store store = new Store(ds, isH2);
    try {
      store.migrate();
      if (isH2) store.checkFlush();
    } catch (RuntimeException e) {
      ds.close();
      throw e;
    }
    return store;
  }

  /**
   * H2 waits for a row lock 1 s by default, less than a conductor may hold one while it applies a
   * batch; give it the same patience PostgreSQL has by default (none needed there).
   */
  private static String h2Url(String url) {
    if (!url.startsWith("jdbc:h2:")) return url;
    String upper = url.toUpperCase();
    if (!upper.contains("LOCK_TIMEOUT")) url += ";LOCK_TIMEOUT=10000";
    return url;
  }

  private void migrate() {
    Integer legacy = legacyVersion();
    Flyway f =
        Flyway.configure()
            .dataSource(pool)
            .locations("classpath:io/livemigrate/conductor/store")
            // A store made by our old hand-rolled runner: its versions become Flyway's baseline.
            .baselineOnMigrate(legacy != null)
            .baselineVersion(legacy == null ? "1" : legacy.toString())
            .baselineDescription("schema_version " + legacy)
            .load();
    int applied = f.migrate().migrationsExecuted;
    if (applied > 0) LOG.info("store schema migrated ({} scripts applied)", applied);
  }

  /** The version our pre-Flyway runner recorded, when this store has no Flyway history yet. */
  private Integer legacyVersion() {
    try (Connection c = pool.getConnection()) {
      if (tableExists(c, "flyway_schema_history") || !tableExists(c, "schema_version")) {
        return null;
      }
      try (var st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT MAX(version) FROM schema_version")) {
        return rs.next() && rs.getInt(1) > 0 ? rs.getInt(1) : null;
      }
    } catch (SQLException e) {
      throw translate(e);
    }
  }

  private static boolean tableExists(Connection c, String name) throws SQLException {
    DatabaseMetaData md = c.getMetaData();
    for (String n : new String[] {name, name.toUpperCase()}) {
      try (ResultSet rs = md.getTables(null, null, n, new String[] {"TABLE"})) {
        while (rs.next()) {
          String schema = rs.getString("TABLE_SCHEM");
          if (schema == null || schema.equalsIgnoreCase(c.getSchema())) return true;
        }
      }
    }
    return false;
  }

  private void checkFlush() {
    try (Handle h = jdbi.open()) {
      h.execute("CHECKPOINT");
    } catch (RuntimeException e) {
      // CHECKPOINT needs admin rights on H2; the store works without it, less durably.
      flushCommits = false;
      LOG.warn(
          "store: cannot CHECKPOINT ({}); commits of the last half second may be lost if this"
              + " process is killed",
          e.getMessage());
    }
  }

  /** Work inside one transaction. */
  @FunctionalInterface
  public interface TxWork<T> {
    T run(Tx tx) throws Exception;
  }

  /**
   * Runs {@code work} in one READ COMMITTED transaction and commits it; the work may run more than
   * once (conflict retries), so it must not have effects outside the transaction.
   */
  public <T> T tx(TxWork<T> work) {
    for (int attempt = 1; ; attempt++) {
      try {
        T result =
            jdbi.withHandle(
                h -> {
                  Tx tx = new Tx(h, h2);
                  T r =
                      h.inTransaction(TransactionIsolationLevel.READ_COMMITTED, hh -> work.run(tx));
                  if (tx.wroteDurably()) flush(h);
                  return r;
                });
        health.ok();
        return result;
      } catch (Exception e) {
        SQLException sql = sqlCause(e);
        if (sql != null && isConflict(sql) && attempt < CONFLICT_RETRIES) {
          sleepJitter(attempt);
          continue;
        }
        RuntimeException t = translate(e);
        if (t instanceof TransientFailure) health.failed(t.getMessage());
        throw t;
      }
    }
  }

  /** A read-only unit of work (no flush); same failure contract as {@link #tx}. */
  public <T> T read(TxWork<T> work) {
    try {
      T r = jdbi.withHandle(h -> work.run(new Tx(h, h2)));
      health.ok();
      return r;
    } catch (Exception e) {
      RuntimeException t = translate(e);
      if (t instanceof TransientFailure) health.failed(t.getMessage());
      throw t;
    }
  }

  /**
   * Makes the commits so far survive the death of this process (kill -9, the OOM killer). H2 keeps
   * a commit in memory and its background writer puts it in the file up to WRITE_DELAY (500 ms)
   * later; a conductor killed within that time came back without its last writes (seen: a migration
   * answered 202 and already copying on the source had no row after the restart). CHECKPOINT writes
   * the commits to the file now; they are then with the OS (not fsynced: a crash of the machine may
   * still lose the last ones). PostgreSQL's commit is durable by itself.
   */
  private void flush(Handle h) {
    if (flushCommits) h.execute("CHECKPOINT");
  }

  /** Probes the database (validation query) and records the outcome for {@link #health()}. */
  public void probe() {
    try (Connection c = pool.getConnection()) {
      if (!c.isValid(1)) throw new SQLTransientConnectionException("connection not valid");
      health.ok();
    } catch (SQLException e) {
      health.failed(translate(e).getMessage());
    }
  }

  /** Whether the last use of the database (or probe) worked, and why not. */
  public StoreHealth health() {
    return health;
  }

  public boolean isH2() {
    return h2;
  }

  private static void sleepJitter(int attempt) {
    try {
      Thread.sleep(ThreadLocalRandom.current().nextLong(1, 5L * attempt + 2));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static SQLException sqlCause(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s) return s;
    }
    return null;
  }

  /** Another transaction got in the way: worth running the work again. */
  private static boolean isConflict(SQLException e) {
    String state = e.getSQLState();
    if (state == null) return false;
    // serialization failure, deadlock (PostgreSQL 40P01), unique violation raced in by another
    // conductor, H2's lock timeout and concurrent update
    return state.equals("40001")
        || state.equals("40P01")
        || state.equals("23505")
        || state.equals("HYT00")
        || state.equals("90131");
  }

  /** An unreachable database becomes a {@link TransientFailure}; the rest stays as it is. */
  static RuntimeException translate(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLTransientConnectionException) {
        return new TransientFailure("store unavailable: " + t.getMessage(), e);
      }
      if (t instanceof SQLException s && isConnectionLoss(s)) {
        return new TransientFailure("store unavailable: " + s.getMessage(), e);
      }
    }
    return e instanceof RuntimeException r ? r : new IllegalStateException(e);
  }

  private static boolean isConnectionLoss(SQLException s) {
    String state = s.getSQLState();
    // 08xxx connection exceptions; 57P01-03 PostgreSQL shutting down / starting up.
    return state != null && (state.startsWith("08") || state.startsWith("57P"));
  }

  @Override
  public void close() {
    pool.close();
  }
}
