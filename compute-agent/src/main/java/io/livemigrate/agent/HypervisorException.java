package io.livemigrate.agent;

/** A hypervisor operation failed; {@code reason} is a conductor reason code. */
public class HypervisorException extends Exception {
  private static final long serialVersionUID = 1L;
  private final String reason;

  public HypervisorException(String reason, String message) {
    super(message);
    this.reason = reason;
  }

  public HypervisorException(String reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  public String reason() {
    return reason;
  }
}
