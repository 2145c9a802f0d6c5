package io.livemigrate.conductor.impl;

import io.livemigrate.common.contract.Envelope;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * What one transaction caused beyond its rows, kept until it commits: the messages it wrote to the
 * outbox (published right after the commit by this conductor; the rows are the guarantee), best
 * effort messages that need no guarantee, and log lines and metrics that must only happen once the
 * change is durable. Discarded when the transaction rolls back or is retried.
 */
final class Effects {
  /** A message to publish: an envelope or a raw JSON document (a notification). */
  record Outgoing(
      String id, String exchange, String routingKey, Envelope envelope, JsonObject json) {}

  final List<Outgoing> outbox = new ArrayList<>();
  final List<Outgoing> bestEffort = new ArrayList<>();
  final List<Runnable> afterCommit = new ArrayList<>();

  /**
   * The transaction only applied a progress sample: its row write need not survive a crash (the
   * next sample replaces it within a second), so H2 may skip its checkpoint.
   */
  boolean progressOnly;

  void afterCommit(Runnable r) {
    afterCommit.add(r);
  }

  boolean isEmpty() {
    return outbox.isEmpty() && bestEffort.isEmpty() && afterCommit.isEmpty();
  }
}
