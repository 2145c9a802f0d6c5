package io.livemigrate.conductor.impl;

import io.livemigrate.conductor.store.Tx;

/**
 * What a transition may use: the transaction that holds the migration's row lock, the time the
 * transition happens at, the effects it collects, and the conductor's collaborators. One per
 * transaction attempt.
 */
record StepContext(Tx tx, long now, Effects fx, Saga saga) {
  ConductorSettings settings() {
    return saga.settings();
  }

  Messages messages() {
    return saga.messages();
  }

  ConductorMetrics metrics() {
    return saga.metrics();
  }
}
