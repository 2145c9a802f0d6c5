package io.livemigrate.conductor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

class MigrationStatusTest {

  /** From each status, every status it may move to (staying included, finals go nowhere). */
  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "ACCEPTED       | ACCEPTED QUEUED PREPARING RUNNING POSTCOPY POST_MIGRATING COMPLETED FAILED"
            + " CANCELLED ERROR",
        "QUEUED         | QUEUED PREPARING RUNNING POSTCOPY POST_MIGRATING COMPLETED FAILED CANCELLED"
            + " ERROR",
        "PREPARING      | PREPARING RUNNING POSTCOPY POST_MIGRATING COMPLETED FAILED CANCELLED"
            + " ERROR",
        "RUNNING        | RUNNING POSTCOPY POST_MIGRATING COMPLETED FAILED CANCELLED ERROR",
        "POSTCOPY       | POSTCOPY POST_MIGRATING COMPLETED FAILED CANCELLED ERROR",
        "POST_MIGRATING | POST_MIGRATING COMPLETED FAILED CANCELLED ERROR",
        "COMPLETED      | ",
        "FAILED         | ",
        "CANCELLED      | ",
        "ERROR          | ",
      })
  void canMoveTo(MigrationStatus from, String allowed) {
    Set<MigrationStatus> expected =
        allowed == null
            ? EnumSet.noneOf(MigrationStatus.class)
            : Arrays.stream(allowed.trim().split("\\s+"))
                .map(MigrationStatus::valueOf)
                .collect(Collectors.toCollection(() -> EnumSet.noneOf(MigrationStatus.class)));
    Set<MigrationStatus> actual = EnumSet.noneOf(MigrationStatus.class);
    for (MigrationStatus to : MigrationStatus.values()) {
      if (from.canMoveTo(to)) actual.add(to);
    }
    assertEquals(expected, actual, "allowed moves from " + from);
  }

  @Test
  void finalAndInProgress() {
    Set<MigrationStatus> fin = EnumSet.noneOf(MigrationStatus.class);
    Set<MigrationStatus> inProgress = EnumSet.noneOf(MigrationStatus.class);
    for (MigrationStatus s : MigrationStatus.values()) {
      if (s.isFinal()) fin.add(s);
      if (s.isInProgress()) inProgress.add(s);
    }
    assertEquals(
        EnumSet.of(
            MigrationStatus.COMPLETED,
            MigrationStatus.FAILED,
            MigrationStatus.CANCELLED,
            MigrationStatus.ERROR),
        fin);
    assertEquals(
        EnumSet.of(
            MigrationStatus.QUEUED,
            MigrationStatus.PREPARING,
            MigrationStatus.RUNNING,
            MigrationStatus.POSTCOPY,
            MigrationStatus.POST_MIGRATING),
        inProgress,
        "accepted is not yet in progress; final statuses are no longer");
  }

  @ParameterizedTest(name = "{0} = \"{1}\"")
  @CsvSource(
      delimiter = '|',
      value = {
        "ACCEPTED       | accepted",
        "QUEUED         | queued",
        "PREPARING      | preparing",
        "RUNNING        | running",
        "POSTCOPY       | running (post-copy)",
        "POST_MIGRATING | post-migrating",
        "COMPLETED      | completed",
        "FAILED         | failed",
        "CANCELLED      | cancelled",
        "ERROR          | error",
      })
  void wireNamesAreNovas(MigrationStatus s, String wire) {
    assertEquals(wire, s.wire());
    assertEquals(s, MigrationStatus.fromWire(wire));
  }

  @ParameterizedTest
  @EnumSource(MigrationStatus.class)
  void everyStatusRoundTripsItsWireName(MigrationStatus s) {
    assertEquals(s, MigrationStatus.fromWire(s.wire()));
  }

  @Test
  void unknownWireNameIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> MigrationStatus.fromWire("migrating"));
    assertThrows(IllegalArgumentException.class, () -> MigrationStatus.fromWire("RUNNING"));
    assertThrows(IllegalArgumentException.class, () -> MigrationStatus.fromWire(null));
  }

  @Test
  void ranksFollowTheLifeOfAMigration() {
    assertEquals(
        "0 1 2 3 4 5 6 6 6 6",
        Arrays.stream(MigrationStatus.values())
            .map(s -> Integer.toString(s.rank()))
            .collect(Collectors.joining(" ")));
  }
}
