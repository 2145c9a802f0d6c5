package io.livemigrate.agent.libvirt;

import io.livemigrate.agent.Hypervisor.JobStats;
import io.livemigrate.agent.Hypervisor.MigrationResult;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** One outbound migration run (or re-attached to) from this process. */
final class MigrationJob {
  final String uuid;
  final CompletableFuture<MigrationResult> future = new CompletableFuture<>();
  final long startNanos = System.nanoTime();
  volatile boolean aborted;
  volatile boolean postCopy;
  volatile boolean suspended;
  volatile JobStats last;

  /** Volumes this job created on the destination for a block migration. */
  final List<String> createdOnDest = new ArrayList<>();

  MigrationJob(String uuid) {
    this.uuid = uuid;
  }

  /** Milliseconds since this process started (or re-attached to) the job. */
  long elapsedMs() {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  /** The mode reported for the finished job. */
  String mode() {
    return postCopy ? "postcopy" : suspended ? "paused" : "precopy";
  }
}
