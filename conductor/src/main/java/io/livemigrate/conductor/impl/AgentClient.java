package io.livemigrate.conductor.impl;

import io.livemigrate.common.bus.Bus;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.conductor.store.MigrationRow;
import io.vertx.core.Future;

/**
 * The only code that publishes to compute agents and the scheduler: every command carries the
 * migration and request ids and asks for replies on the conductor's queue.
 */
final class AgentClient {
  private final Bus bus;

  AgentClient(Bus bus) {
    this.bus = bus;
  }

  Future<Void> toCompute(String host, MigrationRow m, Message command) {
    return bus.send(bus.topology().computeQueue(host), envelope(m, command));
  }

  Future<Void> toScheduler(MigrationRow m, Message command) {
    return bus.send(bus.topology().schedulerQueue(), envelope(m, command));
  }

  private Envelope envelope(MigrationRow m, Message command) {
    return Envelope.of(command, bus.sender())
        .withMigration(m.uuid, m.requestId)
        .withReplyTo(bus.topology().conductorQueue(), null);
  }
}
