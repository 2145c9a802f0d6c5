package io.livemigrate.cli.bench;

import io.livemigrate.agent.Hypervisor;
import io.livemigrate.agent.HypervisorException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.LongAdder;

/**
 * A {@link Hypervisor} that delegates everything and notes, for the watched guests, the wall time
 * of each {@link #jobStats} snapshot and its memory_processed_bytes. The compute agent calls
 * jobStats only to build a progress message, which it publishes right after: the time noted is when
 * the sample was taken, so a delay measured from it includes the agent's publish and the broker.
 */
final class TimedHypervisor implements Hypervisor {
  /** One progress sample: its memory_processed_bytes and when it was taken (epoch ms). */
  record Sample(long processed, long atMs) {}

  private final Hypervisor d;
  private final Set<String> watched;
  private final Map<String, ConcurrentLinkedDeque<Sample>> samples;
  private final LongAdder snapshots;

  TimedHypervisor(
      Hypervisor delegate,
      Set<String> watched,
      Map<String, ConcurrentLinkedDeque<Sample>> samples,
      LongAdder snapshots) {
    this.d = delegate;
    this.watched = watched;
    this.samples = samples;
    this.snapshots = snapshots;
  }

  @Override
  public Optional<JobStats> jobStats(String uuid) {
    Optional<JobStats> s = d.jobStats(uuid);
    if (s.isPresent()) {
      snapshots.increment();
      if (watched.contains(uuid)) {
        samples
            .computeIfAbsent(uuid, u -> new ConcurrentLinkedDeque<>())
            .add(new Sample(s.get().memoryProcessedBytes(), System.currentTimeMillis()));
      }
    }
    return s;
  }

  static Map<String, ConcurrentLinkedDeque<Sample>> newSampleMap() {
    return new ConcurrentHashMap<>();
  }

  @Override
  public String type() {
    return d.type();
  }

  @Override
  public long version() {
    return d.version();
  }

  @Override
  public HostResources resources() {
    return d.resources();
  }

  @Override
  public List<Domain> listDomains() {
    return d.listDomains();
  }

  @Override
  public void prepareIncoming(IncomingSpec spec) throws HypervisorException {
    d.prepareIncoming(spec);
  }

  @Override
  public void cancelIncoming(String uuid) {
    d.cancelIncoming(uuid);
  }

  @Override
  public void finishIncoming(String uuid) throws HypervisorException {
    d.finishIncoming(uuid);
  }

  @Override
  public CompletableFuture<MigrationResult> migrate(
      String uuid, String destHost, MigrationFlags flags) throws HypervisorException {
    return d.migrate(uuid, destHost, flags);
  }

  @Override
  public void setMaxDowntime(String uuid, long ms) throws HypervisorException {
    d.setMaxDowntime(uuid, ms);
  }

  @Override
  public void setMaxSpeed(String uuid, long mibps) throws HypervisorException {
    d.setMaxSpeed(uuid, mibps);
  }

  @Override
  public void abortJob(String uuid) throws HypervisorException {
    d.abortJob(uuid);
  }

  @Override
  public void suspend(String uuid) throws HypervisorException {
    d.suspend(uuid);
  }

  @Override
  public void startPostCopy(String uuid) throws HypervisorException {
    d.startPostCopy(uuid);
  }

  @Override
  public void cleanupSource(String uuid) {
    d.cleanupSource(uuid);
  }

  @Override
  public Map<String, CompletableFuture<MigrationResult>> reattach() {
    return d.reattach();
  }

  @Override
  public void close() {
    d.close();
  }
}
