package io.livemigrate.conductor.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.livemigrate.conductor.MigrationStatus;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The conductor's store on H2 and on PostgreSQL, each test in a database of its own. */
class StoreTest {
  private static final String PG_BASE = "jdbc:postgresql://127.0.0.1:5432/test";
  private static final String PG_USER = "postgres";
  private static final long T0 = 1_736_935_200_000L; // 2025-01-15T10:00:00Z

  private Database db;
  private Store store;

  /** A private database: a fresh H2 in-memory database or a fresh PostgreSQL schema. */
  private interface Database extends AutoCloseable {
    String url();

    String user();

    /** A plain JDBC connection to the same database, to look behind the store's back. */
    default Connection connect() throws SQLException {
      return DriverManager.getConnection(url(), user(), null);
    }

    @Override
    void close() throws SQLException;
  }

  static Stream<String> databases() {
    return Stream.of("h2", "postgresql");
  }

  private Store open(String kind) throws SQLException {
    db = kind.equals("h2") ? h2() : postgresql();
    store = reopen();
    return store;
  }

  private Store reopen() throws SQLException {
    return Store.open(db.url(), db.user(), "");
  }

  private static Database h2() {
    String url = "jdbc:h2:mem:lmtest_" + hex() + ";DB_CLOSE_DELAY=-1";
    return new Database() {
      @Override
      public String url() {
        return url;
      }

      @Override
      public String user() {
        return "";
      }

      @Override
      public Connection connect() throws SQLException {
        return DriverManager.getConnection(url);
      }

      @Override
      public void close() throws SQLException {
        try (Connection c = connect();
            Statement st = c.createStatement()) {
          st.execute("SHUTDOWN");
        }
      }
    };
  }

  private static Database postgresql() throws SQLException {
    Connection admin;
    try {
      DriverManager.setLoginTimeout(5);
      admin = DriverManager.getConnection(PG_BASE, PG_USER, null);
    } catch (SQLException e) {
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError("CI must provide PostgreSQL at " + PG_BASE, e);
      }
      assumeTrue(false, "no PostgreSQL at " + PG_BASE + ": " + e.getMessage());
      throw e;
    }
    String schema = "lmtest_" + hex();
    try (Statement st = admin.createStatement()) {
      st.execute("CREATE SCHEMA " + schema);
    }
    String url = PG_BASE + "?currentSchema=" + schema;
    return new Database() {
      @Override
      public String url() {
        return url;
      }

      @Override
      public String user() {
        return PG_USER;
      }

      @Override
      public void close() throws SQLException {
        try (admin;
            Statement st = admin.createStatement()) {
          st.execute("DROP SCHEMA " + schema + " CASCADE");
        }
      }
    };
  }

  private static String hex() {
    return UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  @AfterEach
  void cleanup() throws SQLException {
    try {
      if (store != null) store.close();
    } finally {
      if (db != null) db.close();
    }
  }

  // ------------------------------------------------------------------ schema

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void schemaIsAtVersionOneAndReopeningDoesNotReapplyMigrations(String kind) throws Exception {
    open(kind);
    assertEquals(2, store.schemaVersion());
    long appliedMs = appliedMs();
    store.upsertHost(hostRow("compute-1", 100));
    store.close();

    store = reopen();
    assertEquals(2, store.schemaVersion());
    assertEquals(2, count("SELECT COUNT(*) FROM schema_version"), "migrations applied once");
    assertEquals(appliedMs, appliedMs(), "V1 was not applied again");
    assertTrue(store.host("compute-1").isPresent(), "data survives reopening");
  }

  private long appliedMs() throws SQLException {
    try (Connection c = db.connect();
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery("SELECT applied_ms, script FROM schema_version WHERE version = 1")) {
      assertTrue(rs.next(), "schema_version has version 1");
      assertEquals("V1__initial.sql", rs.getString("script"));
      return rs.getLong("applied_ms");
    }
  }

  private long count(String sql) throws SQLException {
    try (Connection c = db.connect();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  // ------------------------------------------------------------------ migrations

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void createMigrationAssignsIncreasingIdsAndMarksTheInstanceMigrating(String kind)
      throws Exception {
    open(kind);
    InstanceRow i1 = instanceRow("i-1", "web-01", "compute-1");
    InstanceRow i2 = instanceRow("i-2", "web-02", "compute-1");
    store.upsertInstance(i1);
    store.upsertInstance(i2);

    MigrationRow m1 = migration(i1.uuid());
    store.createMigration(m1, i1.withHostStatus("compute-1", "MIGRATING", "migrating", T0 + 1));
    MigrationRow m2 = migration(i2.uuid());
    store.createMigration(m2, i2.withHostStatus("compute-1", "MIGRATING", "migrating", T0 + 2));
    MigrationRow m3 = migration(i1.uuid());
    store.createMigration(m3, i1.withHostStatus("compute-1", "MIGRATING", "migrating", T0 + 3));

    assertTrue(m1.id > 0, "id assigned: " + m1.id);
    assertTrue(m1.id < m2.id && m2.id < m3.id, List.of(m1.id, m2.id, m3.id).toString());
    InstanceRow after = store.instance(i1.uuid()).orElseThrow();
    assertEquals("MIGRATING", after.status());
    assertEquals("migrating", after.taskState());
    assertEquals(T0 + 3, after.updatedMs());
    assertEquals(m2.id, store.migrationByUuid(m2.uuid).orElseThrow().id);
    assertEquals(m3.uuid, store.migration(m3.id).orElseThrow().uuid);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void createMigrationIsOneTransaction(String kind) throws Exception {
    open(kind);
    InstanceRow i1 = instanceRow("i-1", "web-01", "compute-1");
    store.upsertInstance(i1);
    MigrationRow m = migration(i1.uuid());
    // status is NOT NULL: writing the instance fails after the migration row was inserted.
    InstanceRow broken = i1.withHostStatus("compute-1", null, "migrating", T0 + 1);

    assertThrows(SQLException.class, () -> store.createMigration(m, broken));

    assertEquals(Optional.empty(), store.migrationByUuid(m.uuid).map(r -> r.uuid));
    assertEquals("ACTIVE", store.instance(i1.uuid()).orElseThrow().status());
    assertEquals(0, count("SELECT COUNT(*) FROM migrations"), "the insert was rolled back");
    // The store is usable afterwards, in autocommit again.
    MigrationRow ok = migration(i1.uuid());
    store.createMigration(ok, i1.withHostStatus("compute-1", "MIGRATING", "migrating", T0 + 2));
    assertEquals(1, count("SELECT COUNT(*) FROM migrations"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void everyMigrationFieldSurvivesSaveAndLoad(String kind) throws Exception {
    open(kind);
    MigrationRow full = filled();
    InstanceRow inst = instanceRow(full.instanceUuid, "db-01", "compute-1");
    store.createMigration(full, inst.withHostStatus("compute-1", "MIGRATING", "migrating", T0));
    assertAllFieldsEqual(full, store.migration(full.id).orElseThrow(), "after createMigration");

    // Change every mutable field and save again.
    MigrationRow changed = filled(1_000);
    changed.id = full.id;
    changed.uuid = full.uuid;
    changed.instanceUuid = full.instanceUuid;
    changed.blockMigration = full.blockMigration;
    changed.createdMs = full.createdMs;
    changed.status = MigrationStatus.POSTCOPY;
    changed.triedHosts = new ArrayList<>(List.of("compute-4"));
    changed.actions.add("2025-01-15T10:05:00Z switched to post-copy");
    changed.mode = "paused";
    changed.downtimeMs = 1_234;
    for (Field f : fields()) {
      if (List.of("id", "uuid", "instanceUuid", "blockMigration", "createdMs")
          .contains(f.getName())) {
        continue; // written once, by createMigration
      }
      assertNotEquals(f.get(full), f.get(changed), "the update must change " + f.getName());
    }
    store.save(changed, null);
    assertAllFieldsEqual(changed, store.migrationByUuid(full.uuid).orElseThrow(), "after save");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void emptyListsNullsAndUnknownDowntimeSurviveSaveAndLoad(String kind) throws Exception {
    open(kind);
    MigrationRow m = migration("9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a");
    assertEquals(-1, m.downtimeMs, "a new migration's downtime is unknown");
    store.createMigration(m, instanceRow(m.instanceUuid, "web-01", "compute-1"));
    MigrationRow loaded = store.migration(m.id).orElseThrow();
    assertAllFieldsEqual(m, loaded, "minimal row");
    assertEquals(-1, loaded.downtimeMs);
    assertEquals(List.of(), loaded.triedHosts);
    assertEquals(List.of(), loaded.actions);
    loaded.triedHosts.add("compute-2"); // loaded lists are mutable
    loaded.actions.add("x");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void saveWritesMigrationAndInstanceTogether(String kind) throws Exception {
    open(kind);
    InstanceRow i = instanceRow("i-1", "web-01", "compute-1");
    MigrationRow m = migration(i.uuid());
    store.createMigration(m, i.withHostStatus("compute-1", "MIGRATING", "migrating", T0));

    m.moveTo(MigrationStatus.QUEUED, T0 + 1);
    m.moveTo(MigrationStatus.PREPARING, T0 + 2);
    m.moveTo(MigrationStatus.RUNNING, T0 + 3);
    m.moveTo(MigrationStatus.POST_MIGRATING, T0 + 4);
    m.moveTo(MigrationStatus.COMPLETED, T0 + 5);
    m.downtimeMs = 0;
    store.save(m, i.withHostStatus("compute-2", "ACTIVE", null, T0 + 5));

    MigrationRow loaded = store.migration(m.id).orElseThrow();
    assertEquals(MigrationStatus.COMPLETED, loaded.status);
    assertEquals(0, loaded.downtimeMs);
    assertEquals(T0 + 5, loaded.finishedMs);
    InstanceRow after = store.instance(i.uuid()).orElseThrow();
    assertEquals("compute-2", after.host());
    assertEquals("ACTIVE", after.status());
    assertEquals(null, after.taskState());

    // A failing instance write rolls the migration write back.
    m.reason = "should not stick";
    assertThrows(
        SQLException.class, () -> store.save(m, i.withHostStatus("compute-3", null, null, T0)));
    assertEquals(null, store.migration(m.id).orElseThrow().reason);
    assertEquals("compute-2", store.instance(i.uuid()).orElseThrow().host());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void savingAnUnknownMigrationFails(String kind) throws Exception {
    open(kind);
    MigrationRow ghost = migration("9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a");
    SQLException e = assertThrows(SQLException.class, () -> store.save(ghost, null));
    assertTrue(e.getMessage().contains("not found"), e.getMessage());
    assertEquals(Optional.empty(), store.migration(12345).map(r -> r.uuid));
    assertEquals(Optional.empty(), store.migrationByUuid(ghost.uuid).map(r -> r.uuid));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void longMessagesAreTruncatedToTheirColumns(String kind) throws Exception {
    open(kind);
    MigrationRow m = migration("9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a");
    store.createMigration(m, instanceRow(m.instanceUuid, "web-01", "compute-1"));
    m.message = "m".repeat(5_000);
    for (int i = 0; i < 200; i++) m.actions.add(i + " " + "a".repeat(60));
    store.save(m, null);
    MigrationRow loaded = store.migration(m.id).orElseThrow();
    assertEquals(4_000, loaded.message.length());
    assertTrue(
        String.join("\n", loaded.actions).length() <= 8_000,
        "actions fit their column: " + String.join("\n", loaded.actions).length());
    assertEquals(m.actions.get(0), loaded.actions.get(0), "the oldest actions are kept");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void unfinishedMigrationsExcludeFinalStatuses(String kind) throws Exception {
    open(kind);
    List<String> expected = new ArrayList<>();
    for (MigrationStatus s : MigrationStatus.values()) {
      MigrationRow m = migration("i-" + s.name().toLowerCase());
      m.status = s;
      store.createMigration(m, instanceRow(m.instanceUuid, s.wire(), "compute-1"));
      if (!s.isFinal()) expected.add(m.uuid);
    }
    List<MigrationRow> unfinished = store.unfinishedMigrations();
    assertEquals(expected, unfinished.stream().map(r -> r.uuid).toList(), "oldest first");
    assertEquals(
        List.of(
            MigrationStatus.ACCEPTED,
            MigrationStatus.QUEUED,
            MigrationStatus.PREPARING,
            MigrationStatus.RUNNING,
            MigrationStatus.POSTCOPY,
            MigrationStatus.POST_MIGRATING),
        unfinished.stream().map(r -> r.status).toList());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void migrationsFilterByInstanceHostAndStatus(String kind) throws Exception {
    open(kind);
    MigrationRow a = stored("i-1", "c1", "c2", MigrationStatus.COMPLETED);
    MigrationRow b = stored("i-1", "c2", "c3", MigrationStatus.FAILED);
    MigrationRow c = stored("i-2", "c1", "c3", MigrationStatus.RUNNING);
    MigrationRow d = stored("i-3", "c4", null, MigrationStatus.ACCEPTED);
    MigrationRow e = stored("i-2", "c3", "c1", MigrationStatus.COMPLETED);

    assertEquals(ids(e, d, c, b, a), ids(store.migrations(null, null, null, 0)), "newest first");
    assertEquals(ids(e, d), ids(store.migrations(null, null, null, 2)), "limit");
    assertEquals(ids(b, a), ids(store.migrations("i-1", null, null, 0)), "by instance");
    assertEquals(ids(e, c, a), ids(store.migrations(null, "c1", null, 0)), "source or dest");
    assertEquals(ids(e, a), ids(store.migrations(null, null, "completed", 0)), "by status");
    assertEquals(ids(e), ids(store.migrations("i-2", "c1", "completed", 0)), "all filters");
    assertEquals(ids(c), ids(store.migrations(null, "c3", "running", 5)));
    assertEquals(List.of(), ids(store.migrations("i-9", null, null, 0)));
    assertEquals(List.of(), ids(store.migrations(null, null, "running (post-copy)", 0)));
  }

  private MigrationRow stored(String instance, String source, String dest, MigrationStatus s)
      throws SQLException {
    MigrationRow m = migration(instance);
    m.sourceCompute = source;
    m.destCompute = dest;
    m.status = s;
    store.createMigration(m, instanceRow(instance, instance, source));
    return m;
  }

  private static List<Long> ids(MigrationRow... rows) {
    return Stream.of(rows).map(r -> r.id).toList();
  }

  private static List<Long> ids(List<MigrationRow> rows) {
    return rows.stream().map(r -> r.id).toList();
  }

  // ------------------------------------------------------------------ services, hosts, instances

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void heartbeatCreatesThenUpdatesAService(String kind) throws Exception {
    open(kind);
    assertEquals(Optional.empty(), store.service("compute-1", "nova-compute"));

    ServiceRow first = store.heartbeat("compute-1", "nova-compute", "nova", T0);
    assertTrue(first.id() > 0);
    assertNotNull(first.uuid());
    assertEquals("compute-1", first.host());
    assertEquals("nova-compute", first.binary());
    assertEquals("nova", first.zone());
    assertEquals(T0, first.lastSeenMs());
    assertEquals(T0, first.createdMs());
    assertFalse(first.disabled());
    assertFalse(first.forcedDown());
    assertEquals(null, first.disabledReason());

    ServiceRow second = store.heartbeat("compute-1", "nova-compute", "az-2", T0 + 10_000);
    assertEquals(first.id(), second.id());
    assertEquals(first.uuid(), second.uuid());
    assertEquals(T0, second.createdMs(), "created stays");
    assertEquals(T0 + 10_000, second.lastSeenMs());
    assertEquals("az-2", second.zone());
    assertEquals(1, store.services().size());

    ServiceRow other = store.heartbeat("compute-1", "nova-scheduler", "nova", T0);
    assertNotEquals(first.id(), other.id());
    store.heartbeat("compute-2", "nova-compute", "nova", T0);
    assertEquals(
        List.of("compute-1/nova-compute", "compute-1/nova-scheduler", "compute-2/nova-compute"),
        store.services().stream().map(s -> s.host() + "/" + s.binary()).toList(),
        "services() by id");
    assertEquals(second, store.service("compute-1", "nova-compute").orElseThrow());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void setServiceStatusSetsTheOperatorsFlags(String kind) throws Exception {
    open(kind);
    store.heartbeat("compute-1", "nova-compute", "nova", T0);
    store.heartbeat("compute-2", "nova-compute", "nova", T0);

    store.setServiceStatus("compute-1", "nova-compute", true, "firmware upgrade", true);
    ServiceRow s = store.service("compute-1", "nova-compute").orElseThrow();
    assertTrue(s.disabled());
    assertEquals("firmware upgrade", s.disabledReason());
    assertTrue(s.forcedDown());
    assertFalse(store.service("compute-2", "nova-compute").orElseThrow().disabled(), "only one");

    store.heartbeat("compute-1", "nova-compute", "nova", T0 + 10_000);
    assertTrue(
        store.service("compute-1", "nova-compute").orElseThrow().disabled(),
        "a heartbeat does not re-enable a service");

    store.setServiceStatus("compute-1", "nova-compute", false, null, false);
    ServiceRow enabled = store.service("compute-1", "nova-compute").orElseThrow();
    assertFalse(enabled.disabled());
    assertEquals(null, enabled.disabledReason());
    assertFalse(enabled.forcedDown());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void upsertHostInsertsThenUpdates(String kind) throws Exception {
    open(kind);
    assertEquals(Optional.empty(), store.host("compute-1"));
    HostRow h = new HostRow("compute-1", "QEMU", 8_002_002, 32, 131_072, 2_000, true, false, T0);
    store.upsertHost(h);
    assertEquals(h, store.host("compute-1").orElseThrow());

    HostRow updated =
        new HostRow("compute-1", "QEMU", 9_000_000, 64, 262_144, 4_000, false, true, T0 + 10);
    store.upsertHost(updated);
    assertEquals(updated, store.host("compute-1").orElseThrow());
    assertEquals(1, count("SELECT COUNT(*) FROM hosts"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void upsertInstanceInsertsThenUpdates(String kind) throws Exception {
    open(kind);
    assertEquals(Optional.empty(), store.instance("i-1"));
    InstanceRow i =
        new InstanceRow(
            "i-1",
            "web-01",
            "compute-1",
            "ACTIVE",
            null,
            4,
            8_192,
            40,
            "proj",
            "user",
            "m1.large",
            T0,
            T0);
    store.upsertInstance(i);
    assertEquals(i, store.instance("i-1").orElseThrow());

    InstanceRow moved =
        new InstanceRow(
            "i-1",
            "web-01b",
            "compute-2",
            "MIGRATING",
            "migrating",
            8,
            16_384,
            80,
            "proj2",
            "user2",
            "m1.xlarge",
            T0 + 99,
            T0 + 5);
    store.upsertInstance(moved);
    InstanceRow loaded = store.instance("i-1").orElseThrow();
    assertEquals(
        new InstanceRow(
            "i-1",
            "web-01b",
            "compute-2",
            "MIGRATING",
            "migrating",
            8,
            16_384,
            80,
            "proj2",
            "user2",
            "m1.xlarge",
            T0,
            T0 + 5),
        loaded,
        "every column but created_ms is updated");

    store.upsertInstance(instanceRow("i-2", "app-01", "compute-1"));
    store.upsertInstance(instanceRow("i-3", "zz-01", "compute-2"));
    store.upsertInstance(instanceRow("i-4", "aa-01", "compute-2"));
    assertEquals(
        List.of("aa-01", "app-01", "web-01b", "zz-01"),
        store.instances(null).stream().map(InstanceRow::name).toList(),
        "all, by name");
    assertEquals(
        List.of("aa-01", "web-01b", "zz-01"),
        store.instances("compute-2").stream().map(InstanceRow::name).toList(),
        "one host, by name");
    assertEquals(List.of(), store.instances("compute-9"));
  }

  // ------------------------------------------------------------------ durability

  /**
   * A write that returned is in the H2 file at once, not up to half a second later: a copy of the
   * file taken while the store is still open (what a process killed at that moment leaves on disk)
   * holds it. Without the CHECKPOINT after each write, H2's background writer had not yet written
   * it, and a conductor killed right after accepting a migration came back without it.
   */
  @Test
  void h2WritesAreInTheFileWhenTheyReturn(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("store.mv.db");
    try (Store s = Store.open("jdbc:h2:file:" + dir.resolve("store"), "", "")) {
      InstanceRow i = instanceRow("i-1", "web-01", "compute-1");
      s.upsertInstance(i);
      MigrationRow m = migration(i.uuid());
      s.createMigration(m, i.withHostStatus("compute-1", "MIGRATING", "migrating", T0 + 1));
      // A host report is not flushed by itself; the next flushed write (a new deadline) takes it.
      s.upsertHost(hostRow("compute-1", T0));
      m.completionDeadlineMs = T0 + 60_000;
      s.save(m, null);
      Path killed = dir.resolve("killed");
      Files.createDirectories(killed);
      Files.copy(file, killed.resolve("store.mv.db"));
      try (Store after = Store.open("jdbc:h2:file:" + killed.resolve("store"), "", "")) {
        MigrationRow found =
            after.migrationByUuid(m.uuid).orElseThrow(() -> new AssertionError("migration lost"));
        assertEquals(T0 + 60_000, found.completionDeadlineMs);
        assertEquals("MIGRATING", after.instance(i.uuid()).orElseThrow().status());
        assertTrue(after.host("compute-1").isPresent(), "host lost");
      }
    }
  }

  // ------------------------------------------------------------------ MigrationRow

  @Test
  void moveToStampsEachPhaseOnce() {
    MigrationRow m = migration("i-1");
    m.moveTo(MigrationStatus.QUEUED, T0 + 1);
    m.moveTo(MigrationStatus.PREPARING, T0 + 2);
    m.moveTo(MigrationStatus.PREPARING, T0 + 3); // a retry stays in PREPARING
    assertEquals(T0 + 2, m.preparingMs, "the first entry is kept");
    assertEquals(T0 + 3, m.updatedMs);
    m.moveTo(MigrationStatus.RUNNING, T0 + 4);
    m.moveTo(MigrationStatus.POSTCOPY, T0 + 5);
    m.moveTo(MigrationStatus.POST_MIGRATING, T0 + 6);
    m.moveTo(MigrationStatus.COMPLETED, T0 + 7);
    assertEquals(MigrationStatus.COMPLETED, m.status);
    assertEquals(
        List.of(T0 + 1, T0 + 2, T0 + 4, T0 + 5, T0 + 6, T0 + 7, T0 + 7),
        List.of(
            m.queuedMs,
            m.preparingMs,
            m.runningMs,
            m.postcopyMs,
            m.postMigratingMs,
            m.finishedMs,
            m.updatedMs));
  }

  @Test
  void moveToAFinalStatusStampsFinished() {
    for (MigrationStatus s : MigrationStatus.values()) {
      if (!s.isFinal()) continue;
      MigrationRow m = migration("i-1");
      m.moveTo(MigrationStatus.RUNNING, T0);
      m.moveTo(s, T0 + 9);
      assertEquals(s, m.status);
      assertEquals(T0 + 9, m.finishedMs, s.name());
      assertEquals(0, m.postMigratingMs, "skipped phases stay unstamped");
    }
  }

  @Test
  void moveToRefusesBackwardMoves() {
    MigrationRow m = migration("i-1");
    m.moveTo(MigrationStatus.RUNNING, T0 + 1);
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class, () -> m.moveTo(MigrationStatus.PREPARING, T0 + 2));
    assertTrue(e.getMessage().contains("running -> preparing"), e.getMessage());
    assertEquals(MigrationStatus.RUNNING, m.status, "unchanged");
    assertEquals(T0 + 1, m.updatedMs, "unchanged");
    assertEquals(0, m.preparingMs, "unchanged");
    assertThrows(IllegalStateException.class, () -> m.moveTo(MigrationStatus.ACCEPTED, T0 + 2));
  }

  @Test
  void moveToRefusesLeavingAFinalStatus() {
    for (MigrationStatus fin : MigrationStatus.values()) {
      if (!fin.isFinal()) continue;
      for (MigrationStatus next : MigrationStatus.values()) {
        MigrationRow m = migration("i-1");
        m.moveTo(fin, T0);
        assertThrows(
            IllegalStateException.class,
            () -> m.moveTo(next, T0 + 1),
            fin + " -> " + next + " must be refused");
        assertEquals(fin, m.status);
        assertEquals(T0, m.finishedMs);
      }
    }
  }

  @Test
  void copyCopiesEveryFieldAndTheLists() throws Exception {
    MigrationRow m = filled();
    m.id = 42;
    MigrationRow c = m.copy();
    assertAllFieldsEqual(m, c, "copy");
    assertNotSame(m.triedHosts, c.triedHosts);
    assertNotSame(m.actions, c.actions);
    c.actions.add("more");
    assertEquals(2, m.actions.size(), "the original's list is untouched");
  }

  // ------------------------------------------------------------------ helpers

  private static MigrationRow migration(String instanceUuid) {
    MigrationRow m = new MigrationRow();
    m.uuid = UUID.randomUUID().toString();
    m.instanceUuid = instanceUuid;
    m.createdMs = T0;
    m.updatedMs = T0;
    return m;
  }

  /** A row with every field set to a non-default value; fails on a field type it does not know. */
  private static MigrationRow filled() throws IllegalAccessException {
    return filled(0);
  }

  private static MigrationRow filled(int salt) throws IllegalAccessException {
    MigrationRow m = new MigrationRow();
    MigrationRow defaults = new MigrationRow();
    int n = salt;
    for (Field f : fields()) {
      n++;
      Class<?> t = f.getType();
      if (t == long.class) {
        f.setLong(m, 10_000_000_000L + n); // beyond int range
      } else if (t == int.class) {
        f.setInt(m, 100 + n);
      } else if (t == boolean.class) {
        f.setBoolean(m, true);
      } else if (t == String.class) {
        f.set(m, f.getName().length() > 8 ? f.getName().substring(0, 8) + n : f.getName() + n);
      } else if (t == MigrationStatus.class) {
        f.set(m, MigrationStatus.RUNNING);
      } else if (t == List.class) {
        f.set(m, new ArrayList<>(List.of(f.getName() + "-1", f.getName() + "-2")));
      } else {
        throw new AssertionError(
            "MigrationRow." + f.getName() + " has a type this test does not fill: " + t);
      }
    }
    m.id = 0; // assigned by the store
    m.uuid = UUID.randomUUID().toString();
    m.instanceUuid = UUID.randomUUID().toString();
    m.triedHosts = new ArrayList<>(List.of("compute-3", "compute-4"));
    m.actions =
        new ArrayList<>(
            List.of(
                "2025-01-15T10:00:01Z prepare failed on compute-3, rescheduling: no RAM",
                "2025-01-15T10:00:02Z abort (operator)"));
    m.mode = "postcopy";
    m.downtimeMs = 312;
    for (Field f : fields()) {
      if (f.getName().equals("id")) continue;
      assertNotEquals(f.get(defaults), f.get(m), "filled() must set MigrationRow." + f.getName());
    }
    return m;
  }

  private static List<Field> fields() {
    List<Field> out = new ArrayList<>();
    for (Field f : MigrationRow.class.getDeclaredFields()) {
      int mod = f.getModifiers();
      if (Modifier.isStatic(mod) || !Modifier.isPublic(mod)) continue;
      out.add(f);
    }
    return out;
  }

  private static void assertAllFieldsEqual(MigrationRow expected, MigrationRow actual, String when)
      throws IllegalAccessException {
    List<String> diffs = new ArrayList<>();
    for (Field f : fields()) {
      Object e = f.get(expected);
      Object a = f.get(actual);
      if (!Objects.equals(e, a)) diffs.add(f.getName() + ": expected " + e + " but was " + a);
    }
    assertTrue(diffs.isEmpty(), when + ", fields differ:\n  " + String.join("\n  ", diffs));
  }

  private static InstanceRow instanceRow(String uuid, String name, String host) {
    return new InstanceRow(
        uuid, name, host, "ACTIVE", null, 2, 4_096, 20, "proj", "user", "m1.medium", T0, T0);
  }

  private static HostRow hostRow(String host, long updatedMs) {
    return new HostRow(host, "QEMU", 8_002_002, 16, 65_536, 1_000, false, false, updatedMs);
  }
}
