package io.livemigrate.common.contract;

/**
 * A message that can never be processed as sent: undecodable, missing fields, unknown type or
 * version. The bus parks such messages with this exception's text as the reason.
 */
public class InvalidMessageException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public InvalidMessageException(String message) {
    super(message);
  }
}
