package io.livemigrate.agent.impl;

import io.livemigrate.common.contract.Envelope;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a compute agent must not forget across a restart, in {@code [compute] state_dir}: each
 * outbound migration it started (its start command, written before libvirt is called), the outcome
 * once the job ended (written before it is sent, removed only once the broker confirmed it), a
 * tombstone per finished migration so a redelivered start is never a second migrate call, and the
 * agent's epoch, which grows with every start so progress sequence numbers restart safely.
 *
 * <p>Files are replaced atomically (write a temporary file, then rename). Blocking: call from a
 * worker thread. A disabled journal (no directory) remembers nothing and says so.
 */
final class Journal {
  private static final Logger LOG = LoggerFactory.getLogger(Journal.class);

  /** How long a finished migration's tombstone is kept: far beyond any redelivery. */
  static final long TOMBSTONE_TTL_MS = 7L * 24 * 3600 * 1000;

  /** One started migration and, once it ended, its outcome waiting to be confirmed. */
  record Entry(String migrationId, Envelope start, Envelope outcome) {}

  private final Path dir;

  /**
   * @param dir the journal's directory, created when missing; null = no journal
   * @throws UncheckedIOException when the directory cannot be created or written
   */
  Journal(Path dir) {
    this.dir = dir;
    if (dir != null) {
      try {
        Files.createDirectories(dir);
        Path probe = dir.resolve(".write-test");
        Files.writeString(probe, "ok");
        Files.delete(probe);
      } catch (IOException e) {
        throw new UncheckedIOException(
            "[compute] state_dir " + dir + " is not a writable directory: " + e.getMessage(), e);
      }
    }
  }

  boolean enabled() {
    return dir != null;
  }

  /**
   * This start's epoch: one more than the last start's, and at least the wall clock, so it grows
   * even across a clock set back.
   */
  long nextEpoch() {
    long now = System.currentTimeMillis();
    if (dir == null) return now;
    Path f = dir.resolve("epoch");
    long last = 0;
    try {
      if (Files.exists(f)) last = Long.parseLong(Files.readString(f).trim());
    } catch (IOException | NumberFormatException e) {
      LOG.warn("journal: epoch file {} unreadable ({}); starting from the clock", f, e.toString());
    }
    long next = Math.max(last + 1, now);
    write(f, Long.toString(next));
    return next;
  }

  /** Records a migration about to be started (before the hypervisor is called). */
  void started(String migrationId, Envelope start) {
    if (dir == null) return;
    write(entry(migrationId), new JsonObject().put("start", start.toJson()).encode());
  }

  /** Records the outcome of a migration before it is sent. */
  void ended(String migrationId, Envelope start, Envelope outcome) {
    if (dir == null) return;
    write(
        entry(migrationId),
        new JsonObject().put("start", start.toJson()).put("outcome", outcome.toJson()).encode());
  }

  /** The broker confirmed the outcome: the entry goes, a tombstone stays. */
  void confirmed(String migrationId) {
    if (dir == null) return;
    write(tombstone(migrationId), Long.toString(System.currentTimeMillis()));
    forget(migrationId);
  }

  /** An abort came before any start of this migration: a start arriving later is not a job. */
  void abortedBeforeStart(String migrationId) {
    if (dir == null) return;
    write(tombstone(migrationId), "aborted before start " + System.currentTimeMillis());
  }

  /** A start that never became a job (the hypervisor refused it): nothing to re-attach to. */
  void forget(String migrationId) {
    if (dir == null) return;
    try {
      Files.deleteIfExists(entry(migrationId));
    } catch (IOException e) {
      LOG.warn("journal: entry {} not removed: {}", migrationId, e.toString());
    }
  }

  /** Whether this migration ended here before (its outcome was confirmed). */
  boolean finished(String migrationId) {
    return dir != null && Files.exists(tombstone(migrationId));
  }

  /** Every migration started and not confirmed ended; unreadable entries are dropped, logged. */
  List<Entry> entries() {
    List<Entry> out = new ArrayList<>();
    if (dir == null) return out;
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).toList()) {
        String name = f.getFileName().toString();
        String mid = name.substring(0, name.length() - ".json".length());
        try {
          JsonObject j = new JsonObject(Files.readString(f));
          // An entry of an older agent is the start command itself.
          JsonObject start = j.containsKey("start") ? j.getJsonObject("start") : j;
          JsonObject outcome = j.getJsonObject("outcome");
          out.add(
              new Entry(
                  mid,
                  Envelope.fromJson(start),
                  outcome == null ? null : Envelope.fromJson(outcome)));
        } catch (IOException | RuntimeException e) {
          LOG.warn("journal: unreadable entry {} dropped: {}", f, e.toString());
          Files.deleteIfExists(f);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  Optional<Entry> entry(String migrationId, List<Entry> all) {
    return all.stream().filter(e -> e.migrationId().equals(migrationId)).findFirst();
  }

  /** Drops tombstones older than {@link #TOMBSTONE_TTL_MS}. */
  void prune() {
    if (dir == null) return;
    long cutoff = System.currentTimeMillis() - TOMBSTONE_TTL_MS;
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".done")).toList()) {
        FileTime t = Files.getLastModifiedTime(f);
        if (t.toMillis() < cutoff) Files.deleteIfExists(f);
      }
    } catch (IOException e) {
      LOG.debug("journal: pruning failed: {}", e.toString());
    }
  }

  private Path entry(String migrationId) {
    return dir.resolve(checked(migrationId) + ".json");
  }

  private Path tombstone(String migrationId) {
    return dir.resolve(checked(migrationId) + ".done");
  }

  private static String checked(String migrationId) {
    if (!migrationId.matches("[A-Za-z0-9._-]{1,100}")) {
      throw new IllegalArgumentException("not a migration id: " + migrationId);
    }
    return migrationId;
  }

  private static void write(Path f, String text) {
    try {
      Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
      Files.writeString(tmp, text);
      Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("journal: cannot write " + f + ": " + e.getMessage(), e);
    }
  }
}
