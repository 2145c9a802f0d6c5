package io.livemigrate.common.bus;

import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;

/**
 * Who may send to one subscription, checked by the bus before the handler runs: a message it
 * refuses is parked with cause {@code forbidden} and the returned reason, and counted; the handler
 * never sees it. {@link Envelope#userId()} is the broker-verified sender.
 */
@FunctionalInterface
public interface SenderCheck {
  /** Admits everything (internal queues, tests). */
  SenderCheck ANYONE = (env, body) -> null;

  /** Why {@code env} may not be handled here, or null to admit it. */
  String refuse(Envelope env, Message body);

  /** This check, then {@code next} on what it admits. */
  default SenderCheck and(SenderCheck next) {
    return (env, body) -> {
      String r = refuse(env, body);
      return r != null ? r : next.refuse(env, body);
    };
  }
}
