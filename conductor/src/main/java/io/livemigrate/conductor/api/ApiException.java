package io.livemigrate.conductor.api;

/**
 * A request the conductor refuses, with the HTTP status and the message Nova would give. The API
 * renders it in Nova's error shape.
 */
class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int status;

  ApiException(int status, String message) {
    super(message);
    this.status = status;
  }

  int status() {
    return status;
  }
}
