package io.livemigrate.common.bus;

import io.livemigrate.common.contract.InvalidMessageException;

/**
 * A handler's verdict that the (verified) sender may not send this message: a report for another
 * host, an event of a migration the sender takes no part in, a reply to a command nobody waits for.
 * The bus parks the message at once with cause {@code forbidden} and this text as the reason, and
 * counts it; it is never redelivered.
 */
public class ForbiddenSender extends InvalidMessageException {
  private static final long serialVersionUID = 1L;

  public ForbiddenSender(String message) {
    super(message);
  }
}
