package io.livemigrate.conductor.store;

import io.livemigrate.conductor.MigrationStatus;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The conductor's store over JDBC: H2 (embedded file, the single-machine default) or PostgreSQL.
 * Blocking and not thread-safe: one connection, used from one thread (the conductor's store
 * worker). Schema changes are numbered scripts {@code V<n>__*.sql}, applied in order once.
 */
public final class Store implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Store.class);
  private static final String[] MIGRATIONS = {"V1__initial.sql", "V2__policy.sql"};

  private final Connection conn;

  /** Whether writes that matter after a crash are followed by {@link #flush()}: H2, see there. */
  private boolean flushWrites;

  /** Per unfinished migration, the state last flushed ({@link #durableState}). */
  private final java.util.Map<Long, String> flushed =
      new java.util.concurrent.ConcurrentHashMap<>();

  private Store(Connection conn) {
    this.conn = conn;
  }

  /** Opens the store and brings its schema up to date. */
  public static Store open(String url, String user, String password) throws SQLException {
    Connection c = DriverManager.getConnection(url, emptyToNull(user), emptyToNull(password));
    c.setAutoCommit(true);
    Store s = new Store(c);
    s.migrate();
    s.flushWrites = "H2".equals(c.getMetaData().getDatabaseProductName());
    try {
      s.flush();
    } catch (SQLException e) {
      // CHECKPOINT needs admin rights on H2; the store works without it, less durably.
      s.flushWrites = false;
      LOG.warn(
          "store: cannot CHECKPOINT ({}); writes of the last half second may be lost if this"
              + " process is killed",
          e.getMessage());
    }
    return s;
  }

  /**
   * Makes the writes committed so far survive the death of this process (kill -9, OOM killer). H2
   * keeps a commit in memory and its background writer puts it in the file up to WRITE_DELAY (500
   * ms) later; a conductor killed within that time came back without its last writes (seen: a
   * migration answered 202 and already copying on the source had no row after the restart, or was
   * still "accepted" there, without the completion deadline to re-arm). CHECKPOINT writes the
   * commits to the file now; they are then with the OS (not fsynced: a crash of the machine may
   * still lose the last ones). PostgreSQL's commit is durable by itself. Only outside a
   * transaction: a transaction's method flushes after its commit.
   */
  private void flush() throws SQLException {
    if (!flushWrites || !conn.getAutoCommit()) return;
    try (Statement st = conn.createStatement()) {
      st.execute("CHECKPOINT");
    }
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }

  private void migrate() throws SQLException {
    try (Statement st = conn.createStatement()) {
      st.execute(
          "CREATE TABLE IF NOT EXISTS schema_version (version INT PRIMARY KEY, script"
              + " VARCHAR(255) NOT NULL, applied_ms BIGINT NOT NULL)");
    }
    int current = 0;
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT COALESCE(MAX(version), 0) FROM schema_version")) {
      if (rs.next()) current = rs.getInt(1);
    }
    for (int v = current + 1; v <= MIGRATIONS.length; v++) {
      String script = MIGRATIONS[v - 1];
      String sql;
      try (InputStream in = Store.class.getResourceAsStream(script)) {
        if (in == null) throw new SQLException("schema script " + script + " missing");
        sql = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new SQLException("cannot read " + script, e);
      }
      conn.setAutoCommit(false);
      try (Statement st = conn.createStatement()) {
        for (String stmt : splitSql(sql)) st.execute(stmt);
        try (PreparedStatement ps =
            conn.prepareStatement(
                "INSERT INTO schema_version (version, script, applied_ms) VALUES (?, ?, ?)")) {
          ps.setInt(1, v);
          ps.setString(2, script);
          ps.setLong(3, System.currentTimeMillis());
          ps.executeUpdate();
        }
        conn.commit();
        LOG.info("store schema migrated to version {} ({})", v, script);
      } catch (SQLException e) {
        conn.rollback();
        throw e;
      } finally {
        conn.setAutoCommit(true);
      }
    }
  }

  private static List<String> splitSql(String sql) {
    List<String> out = new ArrayList<>();
    StringBuilder b = new StringBuilder();
    for (String line : sql.split("\n")) {
      String t = line.trim();
      if (t.startsWith("--") || t.isEmpty()) continue;
      b.append(line).append('\n');
      if (t.endsWith(";")) {
        String s = b.toString().trim();
        out.add(s.substring(0, s.length() - 1));
        b.setLength(0);
      }
    }
    if (!b.toString().isBlank()) out.add(b.toString().trim());
    return out;
  }

  public int schemaVersion() throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT MAX(version) FROM schema_version")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  // ---------------------------------------------------------------- services

  /** Records a heartbeat; creates the service on its first one. */
  public ServiceRow heartbeat(String host, String binary, String zone, long nowMs)
      throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "UPDATE services SET last_seen_ms = ?, zone = ? WHERE host = ? AND binary_name = ?")) {
      ps.setLong(1, nowMs);
      ps.setString(2, zone);
      ps.setString(3, host);
      ps.setString(4, binary);
      if (ps.executeUpdate() == 0) {
        try (PreparedStatement ins =
            conn.prepareStatement(
                "INSERT INTO services (uuid, host, binary_name, zone, last_seen_ms, created_ms)"
                    + " VALUES (?, ?, ?, ?, ?, ?)")) {
          ins.setString(1, UUID.randomUUID().toString());
          ins.setString(2, host);
          ins.setString(3, binary);
          ins.setString(4, zone);
          ins.setLong(5, nowMs);
          ins.setLong(6, nowMs);
          ins.executeUpdate();
        }
      }
    }
    // Not flushed: the next heartbeat replaces it in a second, and any later flush carries it.
    return service(host, binary).orElseThrow();
  }

  public Optional<ServiceRow> service(String host, String binary) throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement("SELECT * FROM services WHERE host = ? AND binary_name = ?")) {
      ps.setString(1, host);
      ps.setString(2, binary);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(service(rs)) : Optional.empty();
      }
    }
  }

  public List<ServiceRow> services() throws SQLException {
    List<ServiceRow> out = new ArrayList<>();
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT * FROM services ORDER BY id")) {
      while (rs.next()) out.add(service(rs));
    }
    return out;
  }

  /** Sets the operator's flags on a service. */
  public void setServiceStatus(
      String host, String binary, boolean disabled, String reason, boolean forcedDown)
      throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "UPDATE services SET disabled = ?, disabled_reason = ?, forced_down = ? WHERE host = ?"
                + " AND binary_name = ?")) {
      ps.setBoolean(1, disabled);
      ps.setString(2, reason);
      ps.setBoolean(3, forcedDown);
      ps.setString(4, host);
      ps.setString(5, binary);
      ps.executeUpdate();
    }
    flush();
  }

  private static ServiceRow service(ResultSet rs) throws SQLException {
    return new ServiceRow(
        rs.getLong("id"),
        rs.getString("uuid"),
        rs.getString("host"),
        rs.getString("binary_name"),
        rs.getString("zone"),
        rs.getBoolean("disabled"),
        rs.getString("disabled_reason"),
        rs.getBoolean("forced_down"),
        rs.getLong("last_seen_ms"),
        rs.getLong("created_ms"));
  }

  // ---------------------------------------------------------------- hosts

  public void upsertHost(HostRow h) throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "UPDATE hosts SET hypervisor_type = ?, hypervisor_version = ?, vcpus = ?, memory_mb"
                + " = ?, disk_gb = ?, permit_post_copy = ?, permit_auto_converge = ?, updated_ms"
                + " = ? WHERE host = ?")) {
      hostParams(ps, h);
      ps.setString(9, h.host());
      // Host and instance rows from reports are not flushed: each report re-sends them.
      if (ps.executeUpdate() > 0) return;
    }
    try (PreparedStatement ps =
        conn.prepareStatement(
            "INSERT INTO hosts (hypervisor_type, hypervisor_version, vcpus, memory_mb, disk_gb,"
                + " permit_post_copy, permit_auto_converge, updated_ms, host) VALUES (?, ?, ?, ?,"
                + " ?, ?, ?, ?, ?)")) {
      hostParams(ps, h);
      ps.setString(9, h.host());
      ps.executeUpdate();
    }
  }

  private static void hostParams(PreparedStatement ps, HostRow h) throws SQLException {
    ps.setString(1, h.hypervisorType());
    ps.setLong(2, h.hypervisorVersion());
    ps.setInt(3, h.vcpus());
    ps.setLong(4, h.memoryMb());
    ps.setLong(5, h.diskGb());
    ps.setBoolean(6, h.permitPostCopy());
    ps.setBoolean(7, h.permitAutoConverge());
    ps.setLong(8, h.updatedMs());
  }

  public Optional<HostRow> host(String host) throws SQLException {
    try (PreparedStatement ps = conn.prepareStatement("SELECT * FROM hosts WHERE host = ?")) {
      ps.setString(1, host);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) return Optional.empty();
        return Optional.of(
            new HostRow(
                rs.getString("host"),
                rs.getString("hypervisor_type"),
                rs.getLong("hypervisor_version"),
                rs.getInt("vcpus"),
                rs.getLong("memory_mb"),
                rs.getLong("disk_gb"),
                rs.getBoolean("permit_post_copy"),
                rs.getBoolean("permit_auto_converge"),
                rs.getLong("updated_ms")));
      }
    }
  }

  // ---------------------------------------------------------------- instances

  public void upsertInstance(InstanceRow i) throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "UPDATE instances SET name = ?, host = ?, status = ?, task_state = ?, vcpus = ?,"
                + " memory_mb = ?, disk_gb = ?, project_id = ?, user_id = ?, flavor = ?,"
                + " updated_ms = ? WHERE uuid = ?")) {
      ps.setString(1, i.name());
      ps.setString(2, i.host());
      ps.setString(3, i.status());
      ps.setString(4, i.taskState());
      ps.setInt(5, i.vcpus());
      ps.setLong(6, i.memoryMb());
      ps.setLong(7, i.diskGb());
      ps.setString(8, i.projectId());
      ps.setString(9, i.userId());
      ps.setString(10, i.flavor());
      ps.setLong(11, i.updatedMs());
      ps.setString(12, i.uuid());
      if (ps.executeUpdate() > 0) return;
    }
    try (PreparedStatement ps =
        conn.prepareStatement(
            "INSERT INTO instances (uuid, name, host, status, task_state, vcpus, memory_mb,"
                + " disk_gb, project_id, user_id, flavor, created_ms, updated_ms) VALUES (?, ?, ?,"
                + " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      ps.setString(1, i.uuid());
      ps.setString(2, i.name());
      ps.setString(3, i.host());
      ps.setString(4, i.status());
      ps.setString(5, i.taskState());
      ps.setInt(6, i.vcpus());
      ps.setLong(7, i.memoryMb());
      ps.setLong(8, i.diskGb());
      ps.setString(9, i.projectId());
      ps.setString(10, i.userId());
      ps.setString(11, i.flavor());
      ps.setLong(12, i.createdMs());
      ps.setLong(13, i.updatedMs());
      ps.executeUpdate();
    }
  }

  public Optional<InstanceRow> instance(String uuid) throws SQLException {
    try (PreparedStatement ps = conn.prepareStatement("SELECT * FROM instances WHERE uuid = ?")) {
      ps.setString(1, uuid);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(instance(rs)) : Optional.empty();
      }
    }
  }

  /** Instances, optionally only those on one host (null = all), ordered by name. */
  public List<InstanceRow> instances(String host) throws SQLException {
    String sql =
        host == null
            ? "SELECT * FROM instances ORDER BY name, uuid"
            : "SELECT * FROM instances WHERE host = ? ORDER BY name, uuid";
    List<InstanceRow> out = new ArrayList<>();
    try (PreparedStatement ps = conn.prepareStatement(sql)) {
      if (host != null) ps.setString(1, host);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) out.add(instance(rs));
      }
    }
    return out;
  }

  private static InstanceRow instance(ResultSet rs) throws SQLException {
    return new InstanceRow(
        rs.getString("uuid"),
        rs.getString("name"),
        rs.getString("host"),
        rs.getString("status"),
        rs.getString("task_state"),
        rs.getInt("vcpus"),
        rs.getLong("memory_mb"),
        rs.getLong("disk_gb"),
        rs.getString("project_id"),
        rs.getString("user_id"),
        rs.getString("flavor"),
        rs.getLong("created_ms"),
        rs.getLong("updated_ms"));
  }

  // ---------------------------------------------------------------- migrations

  /** Creates a migration and marks its instance MIGRATING in one transaction; sets {@code m.id}. */
  public void createMigration(MigrationRow m, InstanceRow migrating) throws SQLException {
    conn.setAutoCommit(false);
    try {
      try (PreparedStatement ps =
          conn.prepareStatement(
              "INSERT INTO migrations (uuid, instance_uuid, block_migration, status, created_ms,"
                  + " updated_ms) VALUES (?, ?, ?, ?, ?, ?)",
              Statement.RETURN_GENERATED_KEYS)) {
        ps.setString(1, m.uuid);
        ps.setString(2, m.instanceUuid);
        ps.setBoolean(3, m.blockMigration);
        ps.setString(4, m.status.wire());
        ps.setLong(5, m.createdMs);
        ps.setLong(6, m.updatedMs);
        ps.executeUpdate();
        try (ResultSet keys = ps.getGeneratedKeys()) {
          keys.next();
          m.id = keys.getLong(1);
        }
      }
      saveMigration(m);
      upsertInstance(migrating);
      conn.commit();
    } catch (SQLException e) {
      conn.rollback();
      throw e;
    } finally {
      conn.setAutoCommit(true);
    }
    flush();
  }

  /** Writes a migration and, if given, its instance, in one transaction. */
  public void save(MigrationRow m, InstanceRow instance) throws SQLException {
    if (instance == null) {
      saveMigration(m);
      // A progress sample alone is not flushed (the next one replaces it within a second); a
      // change of state, step, deadline or actions is what a restarted conductor must find.
      String durable = durableState(m);
      if (!durable.equals(flushed.get(m.id))) {
        flush();
        flushed.put(m.id, durable);
      }
      return;
    }
    conn.setAutoCommit(false);
    try {
      saveMigration(m);
      upsertInstance(instance);
      conn.commit();
    } catch (SQLException e) {
      conn.rollback();
      throw e;
    } finally {
      conn.setAutoCommit(true);
    }
    flush();
    if (m.status.isFinal()) flushed.remove(m.id);
    else flushed.put(m.id, durableState(m));
  }

  private static String durableState(MigrationRow m) {
    return m.status.wire()
        + '|'
        + m.step
        + '|'
        + m.stepDeadlineMs
        + '|'
        + m.completionDeadlineMs
        + '|'
        + m.actions.size()
        + '|'
        + m.reason;
  }

  private void saveMigration(MigrationRow m) throws SQLException {
    try (PreparedStatement ps =
        conn.prepareStatement(
            "UPDATE migrations SET source_compute=?, dest_compute=?, requested_host=?, status=?,"
                + " reason=?, message=?, request_id=?, project_id=?, user_id=?, memory_total=?,"
                + " memory_processed=?, memory_remaining=?, disk_total=?, disk_processed=?,"
                + " disk_remaining=?, dirty_rate=?, bandwidth=?, iteration=?,"
                + " expected_downtime_ms=?, downtime_ms=?, mode=?, last_seq=?, tried_hosts=?,"
                + " step=?, step_deadline_ms=?, completion_deadline_ms=?, completion_timeout_s=?,"
                + " abort_reason=?, actions=?, updated_ms=?, queued_ms=?, preparing_ms=?,"
                + " running_ms=?, postcopy_ms=?, post_migrating_ms=?, finished_ms=?, policy=?,"
                + " eta_ms=?, predicted_downtime_ms=? WHERE uuid=?")) {
      int i = 1;
      ps.setString(i++, m.sourceCompute);
      ps.setString(i++, m.destCompute);
      ps.setString(i++, m.requestedHost);
      ps.setString(i++, m.status.wire());
      ps.setString(i++, m.reason);
      ps.setString(i++, truncate(m.message, 4000));
      ps.setString(i++, m.requestId);
      ps.setString(i++, m.projectId);
      ps.setString(i++, m.userId);
      ps.setLong(i++, m.memoryTotal);
      ps.setLong(i++, m.memoryProcessed);
      ps.setLong(i++, m.memoryRemaining);
      ps.setLong(i++, m.diskTotal);
      ps.setLong(i++, m.diskProcessed);
      ps.setLong(i++, m.diskRemaining);
      ps.setLong(i++, m.dirtyRate);
      ps.setLong(i++, m.bandwidth);
      ps.setInt(i++, m.iteration);
      ps.setLong(i++, m.expectedDowntimeMs);
      ps.setLong(i++, m.downtimeMs);
      ps.setString(i++, m.mode);
      ps.setLong(i++, m.lastSeq);
      ps.setString(i++, String.join(",", m.triedHosts));
      ps.setString(i++, m.step);
      ps.setLong(i++, m.stepDeadlineMs);
      ps.setLong(i++, m.completionDeadlineMs);
      ps.setLong(i++, m.completionTimeoutS);
      ps.setString(i++, m.abortReason);
      ps.setString(i++, truncate(String.join("\n", m.actions), 8000));
      ps.setLong(i++, m.updatedMs);
      ps.setLong(i++, m.queuedMs);
      ps.setLong(i++, m.preparingMs);
      ps.setLong(i++, m.runningMs);
      ps.setLong(i++, m.postcopyMs);
      ps.setLong(i++, m.postMigratingMs);
      ps.setLong(i++, m.finishedMs);
      ps.setString(i++, m.policy);
      ps.setLong(i++, m.etaMs);
      ps.setLong(i++, m.predictedDowntimeMs);
      ps.setString(i, m.uuid);
      if (ps.executeUpdate() != 1) throw new SQLException("migration " + m.uuid + " not found");
    }
  }

  private static String truncate(String s, int max) {
    return s == null || s.length() <= max ? s : s.substring(0, max);
  }

  /** Migrations not in a final status, oldest first. */
  public List<MigrationRow> unfinishedMigrations() throws SQLException {
    return migrations(
        "SELECT * FROM migrations WHERE status NOT IN ('completed','failed','cancelled','error')"
            + " ORDER BY id",
        List.of());
  }

  public Optional<MigrationRow> migration(long id) throws SQLException {
    List<MigrationRow> l = migrations("SELECT * FROM migrations WHERE id = ?", List.of(id));
    return l.isEmpty() ? Optional.empty() : Optional.of(l.get(0));
  }

  public Optional<MigrationRow> migrationByUuid(String uuid) throws SQLException {
    List<MigrationRow> l = migrations("SELECT * FROM migrations WHERE uuid = ?", List.of(uuid));
    return l.isEmpty() ? Optional.empty() : Optional.of(l.get(0));
  }

  /**
   * Migrations filtered by instance, host (source or destination) and status; any filter may be
   * null. Newest first.
   */
  public List<MigrationRow> migrations(String instanceUuid, String host, String status, int limit)
      throws SQLException {
    StringBuilder sql = new StringBuilder("SELECT * FROM migrations WHERE 1=1");
    List<Object> args = new ArrayList<>();
    if (instanceUuid != null) {
      sql.append(" AND instance_uuid = ?");
      args.add(instanceUuid);
    }
    if (host != null) {
      sql.append(" AND (source_compute = ? OR dest_compute = ?)");
      args.add(host);
      args.add(host);
    }
    if (status != null) {
      sql.append(" AND status = ?");
      args.add(status);
    }
    sql.append(" ORDER BY id DESC");
    if (limit > 0) sql.append(" LIMIT ").append(limit);
    return migrations(sql.toString(), args);
  }

  private List<MigrationRow> migrations(String sql, List<Object> args) throws SQLException {
    List<MigrationRow> out = new ArrayList<>();
    try (PreparedStatement ps = conn.prepareStatement(sql)) {
      for (int i = 0; i < args.size(); i++) ps.setObject(i + 1, args.get(i));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) out.add(migration(rs));
      }
    }
    return out;
  }

  private static MigrationRow migration(ResultSet rs) throws SQLException {
    MigrationRow m = new MigrationRow();
    m.id = rs.getLong("id");
    m.uuid = rs.getString("uuid");
    m.instanceUuid = rs.getString("instance_uuid");
    m.sourceCompute = rs.getString("source_compute");
    m.destCompute = rs.getString("dest_compute");
    m.requestedHost = rs.getString("requested_host");
    m.blockMigration = rs.getBoolean("block_migration");
    m.status = MigrationStatus.fromWire(rs.getString("status"));
    m.reason = rs.getString("reason");
    m.message = rs.getString("message");
    m.requestId = rs.getString("request_id");
    m.projectId = rs.getString("project_id");
    m.userId = rs.getString("user_id");
    m.memoryTotal = rs.getLong("memory_total");
    m.memoryProcessed = rs.getLong("memory_processed");
    m.memoryRemaining = rs.getLong("memory_remaining");
    m.diskTotal = rs.getLong("disk_total");
    m.diskProcessed = rs.getLong("disk_processed");
    m.diskRemaining = rs.getLong("disk_remaining");
    m.dirtyRate = rs.getLong("dirty_rate");
    m.bandwidth = rs.getLong("bandwidth");
    m.iteration = rs.getInt("iteration");
    m.expectedDowntimeMs = rs.getLong("expected_downtime_ms");
    m.downtimeMs = rs.getLong("downtime_ms");
    m.mode = rs.getString("mode");
    m.lastSeq = rs.getLong("last_seq");
    String tried = rs.getString("tried_hosts");
    m.triedHosts =
        tried == null || tried.isEmpty()
            ? new ArrayList<>()
            : new ArrayList<>(Arrays.asList(tried.split(",")));
    m.step = rs.getString("step");
    m.stepDeadlineMs = rs.getLong("step_deadline_ms");
    m.completionDeadlineMs = rs.getLong("completion_deadline_ms");
    m.completionTimeoutS = rs.getLong("completion_timeout_s");
    m.abortReason = rs.getString("abort_reason");
    String actions = rs.getString("actions");
    m.actions =
        actions == null || actions.isEmpty()
            ? new ArrayList<>()
            : new ArrayList<>(Arrays.asList(actions.split("\n")));
    m.createdMs = rs.getLong("created_ms");
    m.updatedMs = rs.getLong("updated_ms");
    m.queuedMs = rs.getLong("queued_ms");
    m.preparingMs = rs.getLong("preparing_ms");
    m.runningMs = rs.getLong("running_ms");
    m.postcopyMs = rs.getLong("postcopy_ms");
    m.postMigratingMs = rs.getLong("post_migrating_ms");
    m.finishedMs = rs.getLong("finished_ms");
    m.policy = rs.getString("policy");
    m.etaMs = rs.getLong("eta_ms");
    m.predictedDowntimeMs = rs.getLong("predicted_downtime_ms");
    return m;
  }

  @Override
  public void close() throws SQLException {
    conn.close();
  }
}
