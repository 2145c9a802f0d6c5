package io.livemigrate.common.bus;

import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.vertx.core.Future;

/**
 * Handles one decoded, validated message. The message is acknowledged only when the returned future
 * succeeds, so all of the handler's work (store writes included) must be done by then. A failure
 * with {@link io.livemigrate.common.contract.InvalidMessageException} parks the message at once;
 * any other failure redelivers it, up to the configured limit, then parks it.
 */
@FunctionalInterface
public interface MessageHandler {
  Future<Void> handle(Envelope envelope, Message body);
}
