package io.livemigrate.conductor.store;

import static io.livemigrate.conductor.MigrationRowTest.T0;
import static io.livemigrate.conductor.MigrationRowTest.assertAllFieldsEqual;
import static io.livemigrate.conductor.MigrationRowTest.filled;
import static io.livemigrate.conductor.MigrationRowTest.migration;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.livemigrate.common.bus.TransientFailure;
import io.livemigrate.conductor.Drain;
import io.livemigrate.conductor.DrainItem;
import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.MigrationQuery;
import io.livemigrate.conductor.MigrationRow;
import io.livemigrate.conductor.MigrationStatus;
import io.livemigrate.conductor.Usage;
import io.livemigrate.conductor.store.HostReports.Domain;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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

  private Database db;
  private Store store;

  /** A private database: a fresh H2 in-memory database or a fresh PostgreSQL schema. */
  interface Database extends AutoCloseable {
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
    store = Store.open(StoreSettings.of(db.url(), db.user(), ""));
    return store;
  }

  static Database h2() {
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

  static Database postgresql() throws SQLException {
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

  private <T> T tx(Store.TxWork<T> w) {
    return store.tx(w);
  }

  // ------------------------------------------------------------------ schema

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void flywayAppliesEveryScriptOnceAndReopeningAppliesNone(String kind) throws Exception {
    open(kind);
    assertEquals(List.of("1", "2", "3"), appliedVersions());
    tx(
        t -> {
          t.inventory().upsertInstance(instanceRow("i-1", "web-01", "compute-1"));
          return null;
        });
    store.close();
    store = Store.open(StoreSettings.of(db.url(), db.user(), ""));
    assertEquals(List.of("1", "2", "3"), appliedVersions(), "nothing applied twice");
    assertTrue(tx(t -> t.inventory().instance("i-1")).isPresent(), "data kept");
  }

  /**
   * A store made by the runner before Flyway (its own schema_version table, V1 and V2 applied) is
   * baselined at its version: Flyway applies only V3, and the old rows survive it.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void aPreFlywayStoreIsBaselinedAtItsVersion(String kind) throws Exception {
    db = kind.equals("h2") ? h2() : postgresql();
    try (Connection c = db.connect();
        Statement st = c.createStatement()) {
      for (String script : List.of("V1__initial.sql", "V2__policy.sql")) {
        String sql =
            new String(
                Store.class.getResourceAsStream(script).readAllBytes(),
                java.nio.charset.StandardCharsets.UTF_8);
        for (String stmt : sql.split(";")) {
          String s = stmt.replaceAll("(?m)^--.*$", "").trim();
          if (!s.isEmpty()) st.execute(s);
        }
      }
      st.execute(
          "CREATE TABLE schema_version (version INT PRIMARY KEY, script VARCHAR(255) NOT NULL,"
              + " applied_ms BIGINT NOT NULL)");
      st.execute("INSERT INTO schema_version VALUES (1, 'V1__initial.sql', 0)");
      st.execute("INSERT INTO schema_version VALUES (2, 'V2__policy.sql', 0)");
      st.execute(
          "INSERT INTO migrations (uuid, instance_uuid, block_migration, status, created_ms,"
              + " updated_ms, tried_hosts, reason, step) VALUES ('m-old', 'i-old', FALSE,"
              + " 'running', 1, 1, 'compute-3,compute-4', 'SOURCE_AGENT_LOST', 'monitor')");
    }
    store = Store.open(StoreSettings.of(db.url(), db.user(), ""));
    assertEquals(List.of("2", "3"), appliedVersions(), "baseline 2, then V3");
    MigrationRow m = tx(t -> t.migrations().byUuid("m-old")).orElseThrow();
    assertEquals(List.of("compute-3", "compute-4"), m.triedHosts, "lists are newline-separated");
    assertTrue(m.sourceLost, "the marker reason became the flag");
    assertEquals(null, m.reason);
  }

  private List<String> appliedVersions() throws SQLException {
    List<String> out = new ArrayList<>();
    try (Connection c = db.connect();
        Statement st = c.createStatement();
        // Quoted: Flyway creates its table in lower case on both databases.
        ResultSet rs =
            st.executeQuery(
                "SELECT \"version\" FROM \"flyway_schema_history\" WHERE \"success\" = TRUE AND \"version\" IS NOT NULL"
                    + " ORDER BY \"installed_rank\"")) {
      while (rs.next()) out.add(rs.getString(1));
    }
    return out;
  }

  // ------------------------------------------------------------------ migrations

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void everyMigrationFieldSurvivesInsertUpdateAndLoad(String kind) throws Exception {
    open(kind);
    MigrationRow m = filled();
    tx(
        t -> {
          t.migrations().insert(m);
          return null;
        });
    assertTrue(m.id > 0, "id assigned");
    assertAllFieldsEqual(m, tx(t -> t.migrations().byUuid(m.uuid)).orElseThrow(), "inserted");
    MigrationRow changed = filled(7);
    changed.id = m.id;
    changed.uuid = m.uuid;
    tx(
        t -> {
          t.migrations().update(changed);
          return null;
        });
    assertAllFieldsEqual(changed, tx(t -> t.migrations().byId(m.id)).orElseThrow(), "updated");
  }

  /**
   * An update writes the columns its row changed since it was read, nothing else: a column another
   * statement of the same transaction wrote meanwhile keeps that value, and a second update in the
   * transaction writes only its own change.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void anUpdateWritesOnlyTheColumnsItsRowChanged(String kind) throws Exception {
    open(kind);
    MigrationRow m = migration("i-2");
    tx(
        t -> {
          t.migrations().insert(m);
          return null;
        });
    tx(
        t -> {
          MigrationRow row = t.migrations().lock(m.uuid).orElseThrow();
          t.handle()
              .createUpdate("UPDATE migrations SET message = 'behind' WHERE uuid = :u")
              .bind("u", m.uuid)
              .execute();
          row.memoryProcessed = 42;
          t.migrations().update(row);
          t.handle()
              .createUpdate("UPDATE migrations SET bandwidth = 7 WHERE uuid = :u")
              .bind("u", m.uuid)
              .execute();
          row.iteration = 3;
          t.migrations().update(row);
          return null;
        });
    MigrationRow back = tx(t -> t.migrations().byUuid(m.uuid)).orElseThrow();
    assertEquals("behind", back.message, "an unchanged column is not written");
    assertEquals(7, back.bandwidth, "nor after a second update");
    assertEquals(42, back.memoryProcessed);
    assertEquals(3, back.iteration);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void longTextIsClippedToItsColumn(String kind) throws Exception {
    open(kind);
    MigrationRow m = migration("i-1");
    m.message = "x".repeat(10_000);
    m.act("y".repeat(300), T0);
    tx(
        t -> {
          t.migrations().insert(m);
          return null;
        });
    MigrationRow back = tx(t -> t.migrations().byUuid(m.uuid)).orElseThrow();
    assertEquals(4000, back.message.length());
    assertEquals(m.actions, back.actions, "actions are not clipped");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void updatingAnUnknownMigrationFails(String kind) throws Exception {
    open(kind);
    assertThrows(
        IllegalStateException.class,
        () ->
            tx(
                t -> {
                  t.migrations().update(migration("i-9"));
                  return null;
                }));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void queriesFilterAndPageInTheDatabase(String kind) throws Exception {
    open(kind);
    List<MigrationRow> made = new ArrayList<>();
    for (int n = 0; n < 6; n++) {
      MigrationRow m = migration("i-" + (n % 2));
      m.sourceCompute = n < 3 ? "compute-1" : "compute-2";
      m.destCompute = "compute-3";
      if (n == 5) m.moveTo(MigrationStatus.COMPLETED, T0 + n);
      if (n == 1) m.moveTo(MigrationStatus.RUNNING, T0 + n);
      m.updatedMs = T0 + n;
      made.add(m);
      tx(
          t -> {
            t.migrations().insert(m);
            return null;
          });
    }
    assertEquals(6, page(MigrationQuery.all()).size());
    assertEquals(made.get(5).uuid, page(MigrationQuery.all()).get(0).uuid, "newest first");
    assertEquals(3, page(q(null, "compute-2", null, null, 0)).size());
    assertEquals(6, page(q(null, "compute-3", null, null, 0)).size(), "host is source or dest");
    assertEquals(3, page(q("i-1", null, null, null, 0)).size());
    assertEquals(1, page(q(null, null, "completed", null, 0)).size());
    assertEquals(2, page(q(null, null, null, null, 2)).size());
    String marker = page(q(null, null, null, null, 2)).get(1).uuid;
    List<MigrationRow> next = page(q(null, null, null, marker, 2));
    assertEquals(
        List.of(made.get(3).uuid, made.get(2).uuid), next.stream().map(r -> r.uuid).toList());
    assertTrue(
        tx(t -> t.migrations().query(q(null, null, null, "no-such", 2))).isEmpty(),
        "an unknown marker is not a page");
    MigrationQuery since = new MigrationQuery(null, null, null, null, false, T0 + 4, null, 0);
    assertEquals(2, page(since).size());
    assertEquals(
        List.of(made.get(1).uuid),
        page(MigrationQuery.ofInstance("i-1", true)).stream().map(r -> r.uuid).toList(),
        "in progress: neither accepted nor final");
    assertTrue(tx(t -> t.migrations().unfinishedFor("i-1")).isPresent());
  }

  private List<MigrationRow> page(MigrationQuery q) {
    return tx(t -> t.migrations().query(q)).orElseThrow();
  }

  private static MigrationQuery q(
      String instance, String host, String status, String marker, int limit) {
    return new MigrationQuery(instance, host, null, status, false, null, marker, limit);
  }

  /**
   * Two conductors and one due deadline: the one that locks the row first acts, the other's {@code
   * SKIP LOCKED} claim finds nothing, without waiting for the first to commit.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void aDueDeadlineIsClaimedByOneTransactionOnly(String kind) throws Exception {
    open(kind);
    MigrationRow m = migration("i-1");
    m.stepDeadlineMs = T0;
    tx(
        t -> {
          t.migrations().insert(m);
          return null;
        });
    assertEquals(List.of(m.uuid), tx(t -> t.migrations().due(T0 + 1, 10)));
    assertEquals(List.of(), tx(t -> t.migrations().due(T0 - 1, 10)), "not due yet");
    CountDownLatch locked = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CompletableFuture<Boolean> first =
        CompletableFuture.supplyAsync(
            () ->
                tx(
                    t -> {
                      boolean got = t.migrations().lockIfDue(m.uuid, T0 + 1).isPresent();
                      locked.countDown();
                      release.await(10, TimeUnit.SECONDS);
                      return got;
                    }));
    assertTrue(locked.await(10, TimeUnit.SECONDS));
    long t0 = System.nanoTime();
    boolean second = tx(t -> t.migrations().lockIfDue(m.uuid, T0 + 1).isPresent());
    long waitedMs = (System.nanoTime() - t0) / 1_000_000;
    release.countDown();
    assertTrue(first.get(10, TimeUnit.SECONDS), "the first claims it");
    assertFalse(second, "the second skips the locked row");
    assertTrue(waitedMs < 5_000, "skipping does not wait for the lock: " + waitedMs + " ms");
  }

  // ------------------------------------------------------------------ outbox, handled ids

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void outboxRowsAreClaimedOnceTheirClaimRunsOutThenDeleted(String kind) throws Exception {
    open(kind);
    tx(
        t -> {
          for (int n = 0; n < 3; n++) {
            t.outbox()
                .add(
                    new OutboxTable.Row("id-" + n, "x", "k", "envelope", "{\"n\":" + n + "}", T0),
                    T0 + 10_000);
          }
          return null;
        });
    assertEquals(List.of(), tx(t -> t.outbox().claimExpired(T0 + 5_000, T0 + 20_000, 10)));
    List<OutboxTable.Row> claimed = tx(t -> t.outbox().claimExpired(T0 + 10_001, T0 + 20_000, 2));
    assertEquals(List.of("id-0", "id-1"), claimed.stream().map(OutboxTable.Row::id).toList());
    assertEquals(
        List.of("id-2"),
        tx(t -> t.outbox().claimExpired(T0 + 10_001, T0 + 20_000, 10)).stream()
            .map(OutboxTable.Row::id)
            .toList(),
        "claimed rows are not claimed again before their new claim runs out");
    tx(t -> t.outbox().delete(List.of("id-0", "id-1", "id-2")));
    assertEquals(0L, (long) this.<Long>tx(t -> t.outbox().pending()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void aHandledIdIsHandledOnceUntilItExpires(String kind) throws Exception {
    open(kind);
    assertTrue(this.<Boolean>tx(t -> t.firstDelivery("msg-1", T0 + 100)));
    assertFalse(this.<Boolean>tx(t -> t.firstDelivery("msg-1", T0 + 100)), "a redelivery");
    assertEquals(0, (int) this.<Integer>tx(t -> t.expireHandled(T0)));
    assertEquals(1, (int) this.<Integer>tx(t -> t.expireHandled(T0 + 101)));
    assertTrue(this.<Boolean>tx(t -> t.firstDelivery("msg-1", T0 + 200)), "forgotten after expiry");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void aRolledBackTransactionLeavesNoHandledIdAndNoOutboxRow(String kind) throws Exception {
    open(kind);
    assertThrows(
        IllegalStateException.class,
        () ->
            tx(
                t -> {
                  t.firstDelivery("msg-2", T0 + 100);
                  t.outbox().add(new OutboxTable.Row("o-1", "x", "k", "json", "{}", T0), T0);
                  throw new IllegalStateException("handler failed");
                }));
    assertTrue(
        this.<Boolean>tx(t -> t.firstDelivery("msg-2", T0 + 100)), "the redelivery is handled");
    assertEquals(0L, (long) this.<Long>tx(t -> t.outbox().pending()));
  }

  // ------------------------------------------------------------------ inventory

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void inventoryRoundTrips(String kind) throws Exception {
    open(kind);
    tx(
        t -> {
          t.inventory().heartbeat("compute-1", "livemigrate-compute", "nova", T0);
          t.inventory().heartbeat("compute-1", "livemigrate-compute", "az2", T0 + 5);
          t.inventory().setServiceStatus("compute-1", "livemigrate-compute", true, "maint", true);
          t.inventory()
              .upsertHost(
                  new HostRow(
                      "compute-1",
                      "QEMU",
                      9_000_000,
                      16,
                      65_536,
                      1_000,
                      true,
                      false,
                      T0,
                      List.of("compute-2"),
                      HostRow.Limits.NOVA));
          t.inventory().upsertInstance(instanceRow("i-1", "web-01", "compute-1"));
          t.inventory().upsertInstance(instanceRow("i-2", "web-02", "compute-1"));
          t.inventory()
              .upsertInstance(
                  new InstanceRow(
                      "i-3",
                      "db-01",
                      "compute-2",
                      "PAUSED",
                      null,
                      4,
                      8_192,
                      40,
                      "other",
                      "u",
                      "m1.large",
                      T0,
                      T0,
                      "<cpu mode='host-model'/>",
                      "pc-q35-7.2",
                      12L,
                      3_000_000_000L));
          return null;
        });
    var svc = tx(t -> t.inventory().service("compute-1", "livemigrate-compute")).orElseThrow();
    assertEquals("az2", svc.zone());
    assertEquals(T0 + 5, svc.lastSeenMs());
    assertTrue(svc.disabled() && svc.forcedDown());
    assertEquals("maint", svc.disabledReason());
    assertEquals(
        List.of("compute-2"),
        tx(t -> t.inventory().host("compute-1")).orElseThrow().sharedStorageWith());
    InstanceRow i3 = tx(t -> t.inventory().instance("i-3")).orElseThrow();
    assertEquals("pc-q35-7.2", i3.machineType());
    assertEquals(12L, i3.dirtyRateBps());
    assertEquals(3_000_000_000L, i3.memoryDataBytes());
    assertEquals(null, tx(t -> t.inventory().instance("i-1")).orElseThrow().dirtyRateBps());
    List<Usage> byHost = tx(t -> t.inventory().usage(null, false));
    assertEquals(
        List.of(
            new Usage("compute-1", null, 2, 4, 8_192, 40),
            new Usage("compute-2", null, 1, 4, 8_192, 40)),
        byHost);
    assertEquals(
        List.of(new Usage("compute-1", "proj", 2, 4, 8_192, 40)),
        tx(t -> t.inventory().usage("compute-1", true)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void aReportReplacesWhatItsHostRuns(String kind) throws Exception {
    open(kind);
    tx(
        t -> {
          t.reports()
              .replaceDomains(
                  "compute-1",
                  List.of(
                      new Domain("compute-1", "i-1", "running", true, T0),
                      new Domain("compute-1", "i-2", "paused", false, T0)),
                  T0,
                  T0 + 1,
                  true);
          t.reports()
              .replaceDomains(
                  "compute-2",
                  List.of(new Domain("compute-2", "i-1", "paused", false, T0)),
                  T0,
                  T0,
                  false);
          t.reports()
              .replaceDomains(
                  "compute-1",
                  List.of(new Domain("compute-1", "i-1", "running", false, T0 + 10)),
                  T0 + 10,
                  T0 + 11,
                  true);
          return null;
        });
    assertEquals(
        List.of(
            new Domain("compute-1", "i-1", "running", false, T0 + 10),
            new Domain("compute-2", "i-1", "paused", false, T0)),
        tx(t -> t.reports().domainsOf("i-1")));
    assertEquals(List.of(), tx(t -> t.reports().domainsOf("i-2")), "gone from the new report");
    var r = tx(t -> t.reports().lastReport("compute-1")).orElseThrow();
    assertEquals(T0 + 10, r.sentMs());
    assertTrue(r.jobsReported());
    assertFalse(tx(t -> t.reports().lastReport("compute-2")).orElseThrow().jobsReported());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("databases")
  void drainsAndTheirItemsRoundTrip(String kind) throws Exception {
    open(kind);
    Drain d = new Drain("d-1", "compute-1", null, false, 2, "req-1", "running", T0, 0);
    MigrationRow m = migration("i-1");
    m.id = 7;
    DrainItem item =
        new DrainItem("d-1", "i-1", "web-01", "pending", 0, null, 0, null, null, null, 0, 0);
    tx(
        t -> {
          t.drains().insert(d);
          t.drains().upsertItem(item.migrating(m, T0 + 1));
          return null;
        });
    assertEquals("migrating", tx(t -> t.drains().itemOf(m.uuid)).orElseThrow().state());
    assertEquals(Optional.of(d), tx(t -> t.drains().runningFor("compute-1")));
    tx(
        t -> {
          t.drains().update(d.finished("completed", T0 + 9));
          return null;
        });
    assertTrue(tx(t -> t.drains().runningFor("compute-1")).isEmpty());
    assertEquals(1, tx(t -> t.drains().items("d-1")).get(0).attempts());
  }

  // ------------------------------------------------------------------ failures and durability

  /** An unreachable database is a transient failure (wait and retry), not a poison message. */
  @Test
  void anUnreachableDatabaseIsATransientFailure() {
    try (Store s =
        Store.open(
            new StoreSettings(
                "jdbc:postgresql://127.0.0.1:9/none?connectTimeout=1", "x", "", 1, 500))) {
      RuntimeException e =
          assertThrows(RuntimeException.class, () -> s.tx(t -> t.outbox().pending()));
      assertTrue(TransientFailure.isTransient(e), e.toString());
      assertFalse(s.health().up(), "health says so");
      assertTrue(s.health().reason().contains("store unavailable"), s.health().reason());
    } catch (TransientFailure opening) {
      // Opening may already fail to reach it: the same contract.
      assertInstanceOf(TransientFailure.class, opening);
    }
  }

  /**
   * A commit that returned is in the H2 file at once, not up to half a second later: a copy of the
   * file taken while the store is still open (what a process killed at that moment leaves on disk)
   * holds it. (The separate-process proof with kill -9 is ConductorKillTest's.)
   */
  @Test
  void h2CommitsAreInTheFileWhenTheyReturn(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("store.mv.db");
    try (Store s = Store.open(StoreSettings.of("jdbc:h2:file:" + dir.resolve("store"), "", ""))) {
      MigrationRow m = migration("i-1");
      s.tx(
          t -> {
            t.inventory().upsertInstance(instanceRow("i-1", "web-01", "compute-1"));
            t.migrations().insert(m);
            t.outbox().add(new OutboxTable.Row("o-1", "x", "k", "json", "{}", T0), T0);
            return null;
          });
      m.completionDeadlineMs = T0 + 60_000;
      s.tx(
          t -> {
            t.migrations().update(m);
            return null;
          });
      Path killed = dir.resolve("killed");
      Files.createDirectories(killed);
      Files.copy(file, killed.resolve("store.mv.db"));
      try (Store after =
          Store.open(StoreSettings.of("jdbc:h2:file:" + killed.resolve("store"), "", ""))) {
        MigrationRow found =
            after
                .read(t -> t.migrations().byUuid(m.uuid))
                .orElseThrow(() -> new AssertionError("lost"));
        assertEquals(T0 + 60_000, found.completionDeadlineMs);
        assertEquals(1L, (long) after.read(t -> t.outbox().pending()), "outbox row lost");
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  static InstanceRow instanceRow(String uuid, String name, String host) {
    return new InstanceRow(
        uuid, name, host, "ACTIVE", null, 2, 4_096, 20, "proj", "user", "m1.medium", T0, T0);
  }
}
