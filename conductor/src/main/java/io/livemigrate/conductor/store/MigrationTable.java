package io.livemigrate.conductor.store;

import io.livemigrate.conductor.MigrationQuery;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Step;
import java.lang.reflect.Field;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.jdbi.v3.core.statement.UnableToExecuteStatementException;

/**
 * The {@code migrations} table. Its one mapper: every persistent field of {@link MigrationRow} is
 * the column of the same name in snake case, in both directions; lists are newline-separated.
 */
public final class MigrationTable {
  private static final String UNFINISHED =
      "status NOT IN ('completed', 'failed', 'cancelled', 'error')";

  /** Longest text kept per column (the schema's sizes). */
  private static final Map<String, Integer> LIMITS =
      Map.of(
          "message", 4000,
          "reason", 64,
          "tried_hosts", 4000,
          "compensations", 1000,
          "planned_detail", 1000,
          "planned_reason", 64,
          "planned_strategy", 32);

  private record Column(Field field, String name) {
    /** The Java type of the column's bound value. */
    Class<?> jdbcType() {
      Class<?> t = field.getType();
      if (t == long.class) return Long.class;
      if (t == int.class) return Integer.class;
      if (t == boolean.class) return Boolean.class;
      return String.class;
    }
  }

  private static final List<Column> COLUMNS =
      MigrationRow.persistentFields().stream().map(f -> new Column(f, snake(f.getName()))).toList();

  private static final String INSERT =
      "INSERT INTO migrations ("
          + names(false, ", ", "")
          + ") VALUES ("
          + names(false, ", ", ":")
          + ")";

  /** Every column, in the order of {@link #COLUMNS}: rows are read by position. */
  private static final String SELECT =
      "SELECT "
          + COLUMNS.stream().map(Column::name).collect(Collectors.joining(", "))
          + " FROM migrations";

  private static final int UUID = indexOf("uuid");
  private static final int ID = indexOf("id");

  /** The UPDATE statement per set of changed columns (bit i = column i). */
  private static final Map<Long, String> UPDATES = new ConcurrentHashMap<>();

  private final Tx tx;

  MigrationTable(Tx tx) {
    this.tx = tx;
  }

  private static int indexOf(String column) {
    for (int i = 0; i < COLUMNS.size(); i++) if (COLUMNS.get(i).name.equals(column)) return i;
    throw new IllegalStateException("no column " + column);
  }

  private static String names(boolean withId, String sep, String prefix) {
    return COLUMNS.stream()
        .filter(c -> withId || !c.name.equals("id"))
        .map(c -> prefix + c.name)
        .collect(Collectors.joining(sep));
  }

  static String snake(String camel) {
    StringBuilder b = new StringBuilder();
    for (char ch : camel.toCharArray()) {
      if (Character.isUpperCase(ch)) b.append('_').append(Character.toLowerCase(ch));
      else b.append(ch);
    }
    return b.toString();
  }

  /** Inserts a new migration and sets its {@code id}. */
  public void insert(MigrationRow m) {
    m.refreshDue();
    Object[] values = values(m);
    var insert = tx.handle().createUpdate(INSERT);
    for (int i = 0; i < COLUMNS.size(); i++) {
      if (i != ID) insert.bindByType(COLUMNS.get(i).name, values[i], COLUMNS.get(i).jdbcType());
    }
    m.id = insert.executeAndReturnGeneratedKeys("id").mapTo(Long.class).one();
    values[ID] = m.id;
    m.stored(values);
    tx.durable();
  }

  /**
   * Writes the columns that changed since the row was read or last written (all of them for a row
   * not read in this transaction); nothing when none did.
   *
   * @param durable false for a change a restarted conductor can do without (a progress sample
   *     replaced within a second), so H2 skips its checkpoint for it
   * @throws IllegalStateException when the migration does not exist
   */
  public void update(MigrationRow m, boolean durable) {
    m.refreshDue();
    Object[] values = values(m);
    Object[] before = m.stored();
    long changed = 0;
    for (int i = 0; i < values.length; i++) {
      if (i == UUID || i == ID) continue;
      if (before == null || !Objects.equals(before[i], values[i])) changed |= 1L << i;
    }
    if (changed == 0) return;
    String sql = UPDATES.computeIfAbsent(changed, MigrationTable::updateOf);
    // Plain JDBC on a kept statement: this runs for every progress sample, and Jdbi's named
    // binding of each column plus H2's parse were a fifth of a loaded conductor's CPU.
    long columns = changed;
    int rows =
        jdbc(
            sql,
            st -> {
              int p = 1;
              for (int i = 0; i < values.length; i++) {
                if ((columns & (1L << i)) != 0) set(st, p++, values[i], COLUMNS.get(i).jdbcType());
              }
              st.setString(p, m.uuid);
              return st.executeUpdate();
            });
    if (rows != 1) throw new IllegalStateException("migration " + m.uuid + " not found");
    m.stored(values);
    if (durable) tx.durable();
  }

  private static final String LOCK = SELECT + " WHERE uuid = ? FOR UPDATE";

  private <T> T jdbc(String sql, Statements.Use<T> use) {
    try {
      return Statements.with(tx, sql, use);
    } catch (SQLException e) {
      throw new UnableToExecuteStatementException(e, null);
    }
  }

  private static String updateOf(long changed) {
    StringBuilder b = new StringBuilder("UPDATE migrations SET ");
    String sep = "";
    for (int i = 0; i < COLUMNS.size(); i++) {
      if ((changed & (1L << i)) == 0) continue;
      b.append(sep).append(COLUMNS.get(i).name).append(" = ?");
      sep = ", ";
    }
    return b.append(" WHERE uuid = ?").toString();
  }

  private static void set(PreparedStatement st, int p, Object v, Class<?> type)
      throws SQLException {
    if (v == null) st.setNull(p, Types.VARCHAR);
    else if (type == Long.class) st.setLong(p, (Long) v);
    else if (type == Integer.class) st.setInt(p, (Integer) v);
    else if (type == Boolean.class) st.setBoolean(p, (Boolean) v);
    else st.setString(p, (String) v);
  }

  public void update(MigrationRow m) {
    update(m, true);
  }

  /** The migration, its row locked until the transaction ends. */
  public Optional<MigrationRow> lock(String uuid) {
    return jdbc(
        LOCK,
        st -> {
          st.setString(1, uuid);
          try (ResultSet rs = st.executeQuery()) {
            return rs.next() ? Optional.of(read(rs)) : Optional.<MigrationRow>empty();
          }
        });
  }

  /**
   * The migration, locked, if it is due by {@code nowMs} and no other conductor holds it: how
   * exactly one of several conductors acts on a deadline.
   */
  public Optional<MigrationRow> lockIfDue(String uuid, long nowMs) {
    return one(
        SELECT + " WHERE uuid = :u AND due_ms > 0 AND due_ms <= :now" + Tx.skipLocked(),
        Map.of("u", uuid, "now", nowMs));
  }

  /** The migration, locked, unless another conductor holds it. */
  public Optional<MigrationRow> tryLock(String uuid) {
    return one(SELECT + " WHERE uuid = :u" + Tx.skipLocked(), Map.of("u", uuid));
  }

  public Optional<MigrationRow> byUuid(String uuid) {
    return one(SELECT + " WHERE uuid = :u", Map.of("u", uuid));
  }

  public Optional<MigrationRow> byId(long id) {
    return one(SELECT + " WHERE id = :id", Map.of("id", id));
  }

  /** The instance's migration that has not ended, if any. */
  public Optional<MigrationRow> unfinishedFor(String instanceUuid) {
    return one(SELECT + " WHERE instance_uuid = :i AND " + UNFINISHED, Map.of("i", instanceUuid));
  }

  /** Migrations not in a final status, oldest first. */
  public List<MigrationRow> unfinished() {
    return list(SELECT + " WHERE " + UNFINISHED + " ORDER BY id", Map.of());
  }

  /** Unfinished migrations from or to a host. */
  public List<MigrationRow> unfinishedOn(String host) {
    return list(
        SELECT
            + " WHERE "
            + UNFINISHED
            + " AND (source_compute = :h OR dest_compute = :h) ORDER BY id",
        Map.of("h", host));
  }

  /** A migration copying from a host, as the reconciler first looks at it. */
  public record Transfer(String uuid, String instanceUuid, long jobMissingSinceMs) {}

  /** Migrations whose transfer runs from {@code source} (running or post-copy, being followed). */
  public List<Transfer> transfersFrom(String source) {
    return tx.handle()
        .createQuery(
            "SELECT uuid, instance_uuid, job_missing_since_ms FROM migrations WHERE source_compute"
                + " = :s AND status IN (:running, :postcopy) AND step IN (:monitor, :abort)")
        .bind("s", source)
        .bind("running", MigrationStatus.RUNNING.wire())
        .bind("postcopy", MigrationStatus.POSTCOPY.wire())
        .bind("monitor", Step.MONITOR.wire())
        .bind("abort", Step.ABORT.wire())
        .map((rs, ctx) -> new Transfer(rs.getString(1), rs.getString(2), rs.getLong(3)))
        .list();
  }

  /**
   * What every unfinished migration with a destination claims there: the instance's resources (disk
   * only for block migration), for the scheduler's snapshot and the conductor's own check.
   */
  public List<io.livemigrate.common.contract.SchedulerMessages.Claimed> claimed() {
    return claims(tx.handle().createQuery(CLAIMED));
  }

  /**
   * The claims that count for a migration from {@code source} to {@code dest}: those leaving the
   * source or arriving at the destination. A destination check per migration that read every claim
   * made a burst of N migrations cost N² rows.
   */
  public List<io.livemigrate.common.contract.SchedulerMessages.Claimed> claimedAt(
      String source, String dest) {
    return claims(
        tx.handle()
            .createQuery(CLAIMED + " AND (m.source_compute = :s OR m.dest_compute = :d)")
            .bind("s", source)
            .bind("d", dest));
  }

  private static final String CLAIMED =
      "SELECT m.instance_uuid, m.source_compute, m.dest_compute, i.vcpus, i.memory_mb,"
          + " CASE WHEN m.block_migration THEN i.disk_gb ELSE 0 END AS disk FROM migrations"
          + " m JOIN instances i ON i.uuid = m.instance_uuid WHERE m."
          + UNFINISHED
          + " AND m.dest_compute IS NOT NULL AND m.source_compute IS NOT NULL";

  private static List<io.livemigrate.common.contract.SchedulerMessages.Claimed> claims(
      org.jdbi.v3.core.statement.Query q) {
    return q.map(
            (rs, ctx) ->
                new io.livemigrate.common.contract.SchedulerMessages.Claimed(
                    rs.getString("instance_uuid"),
                    rs.getString("source_compute"),
                    rs.getString("dest_compute"),
                    rs.getInt("vcpus"),
                    rs.getLong("memory_mb"),
                    rs.getLong("disk")))
        .list();
  }

  /** The bandwidth the last migration from this source measured, bytes/s; 0 = none yet. */
  public long lastBandwidthFrom(String source) {
    return tx.handle()
        .createQuery(
            "SELECT bandwidth FROM migrations WHERE source_compute = :s AND bandwidth > 0 ORDER BY"
                + " id DESC LIMIT 1")
        .bind("s", source)
        .mapTo(Long.class)
        .findOne()
        .orElse(0L);
  }

  /** Uuids of migrations with a deadline at or before {@code nowMs}, earliest first. */
  public List<String> due(long nowMs, int limit) {
    return tx.handle()
        .createQuery(
            "SELECT uuid FROM migrations WHERE due_ms > 0 AND due_ms <= :now ORDER BY due_ms"
                + " LIMIT :n")
        .bind("now", nowMs)
        .bind("n", limit)
        .mapTo(String.class)
        .list();
  }

  /**
   * Running migrations whose source's liveness disagrees with their {@code source_lost} flag: the
   * source's last heartbeat is older than {@code downBeforeMs} (or it is forced down) but the flag
   * is clear, or the other way round.
   */
  public List<String> sourceLivenessChanged(long downBeforeMs) {
    return tx.handle()
        .createQuery(
            "SELECT m.uuid FROM migrations m JOIN services s ON s.host = m.source_compute AND"
                + " s.binary_name = 'livemigrate-compute' WHERE m.status IN ('running',"
                + " 'running (post-copy)') AND ((m.source_lost = FALSE AND (s.forced_down = TRUE"
                + " OR s.last_seen_ms < :t)) OR (m.source_lost = TRUE AND s.forced_down = FALSE"
                + " AND s.last_seen_ms >= :t))")
        .bind("t", downBeforeMs)
        .mapTo(String.class)
        .list();
  }

  /**
   * Unfinished migrations per status, with the earliest start of that phase among them (for gauges;
   * one aggregate, not every row).
   */
  public Map<String, long[]> inFlightByStatus() {
    Map<String, long[]> out = new java.util.TreeMap<>();
    tx.handle()
        .createQuery(
            "SELECT status, COUNT(*) AS n, MIN(CASE status WHEN 'queued' THEN queued_ms WHEN"
                + " 'preparing' THEN preparing_ms WHEN 'running' THEN running_ms WHEN 'running"
                + " (post-copy)' THEN postcopy_ms WHEN 'post-migrating' THEN post_migrating_ms"
                + " ELSE created_ms END) AS since FROM migrations WHERE "
                + UNFINISHED
                + " GROUP BY status")
        .map(
            (rs, ctx) ->
                out.put(rs.getString("status"), new long[] {rs.getLong("n"), rs.getLong("since")}))
        .list();
    return out;
  }

  /**
   * Migrations as the API filters and pages them, newest first; paging (marker, limit,
   * changes-since) happens in the database.
   *
   * @return empty when the marker names no migration
   */
  public Optional<List<MigrationRow>> query(MigrationQuery q) {
    StringBuilder sql = new StringBuilder(SELECT + " WHERE 1=1");
    Map<String, Object> args = new java.util.HashMap<>();
    if (q.instanceUuid() != null) {
      sql.append(" AND instance_uuid = :inst");
      args.put("inst", q.instanceUuid());
    }
    if (q.host() != null) {
      sql.append(" AND (source_compute = :host OR dest_compute = :host)");
      args.put("host", q.host());
    }
    if (q.sourceCompute() != null) {
      sql.append(" AND source_compute = :src");
      args.put("src", q.sourceCompute());
    }
    if (q.status() != null) {
      sql.append(" AND status = :status");
      args.put("status", q.status());
    }
    if (q.inProgressOnly()) {
      sql.append(" AND ").append(UNFINISHED).append(" AND status <> 'accepted'");
    }
    if (q.changesSinceMs() != null) {
      sql.append(" AND updated_ms >= :since");
      args.put("since", q.changesSinceMs());
    }
    if (q.marker() != null) {
      Optional<Long> markerId =
          tx.handle()
              .createQuery("SELECT id FROM migrations WHERE uuid = :m")
              .bind("m", q.marker())
              .mapTo(Long.class)
              .findOne();
      if (markerId.isEmpty()) return Optional.empty();
      sql.append(" AND id < :mid");
      args.put("mid", markerId.get());
    }
    sql.append(" ORDER BY id DESC");
    if (q.limit() > 0) {
      sql.append(" LIMIT :lim");
      args.put("lim", q.limit());
    }
    return Optional.of(list(sql.toString(), args));
  }

  private Optional<MigrationRow> one(String sql, Map<String, Object> args) {
    List<MigrationRow> l = list(sql, args);
    return l.isEmpty() ? Optional.empty() : Optional.of(l.get(0));
  }

  private List<MigrationRow> list(String sql, Map<String, Object> args) {
    return tx.handle().createQuery(sql).bindMap(args).map((rs, ctx) -> read(rs)).list();
  }

  // ------------------------------------------------------------------ the mapper

  /** The row's column values as JDBC binds them, in the order of {@link #COLUMNS}. */
  private static Object[] values(MigrationRow m) {
    Object[] out = new Object[COLUMNS.size()];
    try {
      for (int i = 0; i < out.length; i++) {
        Column c = COLUMNS.get(i);
        Object v = c.field.get(m);
        Class<?> t = c.field.getType();
        if (t == MigrationStatus.class) {
          v = ((MigrationStatus) v).wire();
        } else if (t == Step.class) {
          v = v == null ? null : ((Step) v).wire();
        } else if (t == List.class) {
          @SuppressWarnings("unchecked")
          List<String> l = (List<String>) v;
          v = clip(c.name, l == null ? "" : String.join("\n", l));
        } else if (t == String.class) {
          v = clip(c.name, (String) v);
        }
        out[i] = v;
      }
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
    return out;
  }

  private static String clip(String column, String s) {
    Integer max = LIMITS.get(column);
    return s == null || max == null || s.length() <= max ? s : s.substring(0, max);
  }

  private static MigrationRow read(ResultSet rs) throws SQLException {
    MigrationRow m = new MigrationRow();
    // The column values as stored, in the form values() binds them: what an update compares with.
    Object[] stored = new Object[COLUMNS.size()];
    try {
      for (int i = 0; i < COLUMNS.size(); i++) {
        Column c = COLUMNS.get(i);
        int p = i + 1;
        Class<?> t = c.field.getType();
        Object v;
        if (t == long.class) v = stored[i] = rs.getLong(p);
        else if (t == int.class) v = stored[i] = rs.getInt(p);
        else if (t == boolean.class) v = stored[i] = rs.getBoolean(p);
        else if (t == String.class) v = stored[i] = rs.getString(p);
        else if (t == MigrationStatus.class) {
          String s = rs.getString(p);
          stored[i] = s;
          v = MigrationStatus.fromWire(s);
        } else if (t == Step.class) {
          String s = rs.getString(p);
          stored[i] = s;
          v = s == null ? null : Step.fromWire(s);
        } else if (t == List.class) {
          String s = rs.getString(p);
          stored[i] = s == null ? "" : s;
          v =
              s == null || s.isEmpty()
                  ? new ArrayList<String>()
                  : new ArrayList<>(Arrays.asList(s.split("\n")));
        } else throw new IllegalStateException("no mapping for " + t + " " + c.name);
        c.field.set(m, v);
      }
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
    m.stored(stored);
    return m;
  }
}
