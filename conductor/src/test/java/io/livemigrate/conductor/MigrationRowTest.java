package io.livemigrate.conductor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The migration row: its one status move, its copy, its earlier deadline. */
public class MigrationRowTest {
  public static final long T0 = 1_736_935_200_000L; // 2025-01-15T10:00:00Z

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
  void aFinalStatusClearsTheStepAndEveryDeadline() {
    MigrationRow m = migration("i-1");
    m.step = Step.MONITOR;
    m.awaitingId = "cmd-1";
    m.stepDeadlineMs = T0 + 10;
    m.completionDeadlineMs = T0 + 20;
    m.refreshDue();
    assertEquals(T0 + 10, m.dueMs, "the earlier deadline is the due one");
    m.moveTo(MigrationStatus.FAILED, T0 + 1);
    assertNull(m.step);
    assertNull(m.awaitingId);
    assertEquals(0, m.dueMs);
    assertEquals(0, m.stepDeadlineMs + m.completionDeadlineMs);
  }

  @Test
  void dueIsTheOnlyDeadlineWhenThereIsOne() {
    MigrationRow m = migration("i-1");
    m.completionDeadlineMs = T0 + 20;
    m.refreshDue();
    assertEquals(T0 + 20, m.dueMs);
    m.completionDeadlineMs = 0;
    m.refreshDue();
    assertEquals(0, m.dueMs);
  }

  @Test
  void actionsStayBounded() {
    MigrationRow m = migration("i-1");
    for (int i = 0; i < MigrationRow.MAX_ACTIONS + 50; i++) m.act("step " + i, T0 + i);
    assertEquals(MigrationRow.MAX_ACTIONS, m.actions.size());
    assertTrue(
        m.actions.get(m.actions.size() - 1).endsWith("step " + (MigrationRow.MAX_ACTIONS + 49)));
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

  public static MigrationRow migration(String instanceUuid) {
    MigrationRow m = new MigrationRow();
    m.uuid = UUID.randomUUID().toString();
    m.instanceUuid = instanceUuid;
    m.createdMs = T0;
    m.updatedMs = T0;
    return m;
  }

  /** A row with every field set to a non-default value; fails on a field type it does not know. */
  public static MigrationRow filled() throws IllegalAccessException {
    return filled(0);
  }

  public static MigrationRow filled(int salt) throws IllegalAccessException {
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
      } else if (t == Step.class) {
        f.set(m, Step.MONITOR);
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
    m.compensations = new ArrayList<>(List.of("RELEASE_CLAIM", "ROLLBACK_DESTINATION"));
    m.refreshDue();
    for (Field f : fields()) {
      if (f.getName().equals("id")) continue;
      assertNotEquals(f.get(defaults), f.get(m), "filled() must set MigrationRow." + f.getName());
    }
    return m;
  }

  static List<Field> fields() {
    List<Field> out = new ArrayList<>();
    for (Field f : MigrationRow.class.getDeclaredFields()) {
      int mod = f.getModifiers();
      if (Modifier.isStatic(mod) || !Modifier.isPublic(mod)) continue;
      out.add(f);
    }
    return out;
  }

  public static void assertAllFieldsEqual(MigrationRow expected, MigrationRow actual, String when)
      throws IllegalAccessException {
    List<String> diffs = new ArrayList<>();
    for (Field f : fields()) {
      Object e = f.get(expected);
      Object a = f.get(actual);
      if (!Objects.equals(e, a)) diffs.add(f.getName() + ": expected " + e + " but was " + a);
    }
    assertTrue(diffs.isEmpty(), when + ", fields differ:\n  " + String.join("\n  ", diffs));
  }
}
