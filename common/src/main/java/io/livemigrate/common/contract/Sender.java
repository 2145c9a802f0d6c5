package io.livemigrate.common.contract;

import java.util.Objects;

/** Who sent a message: the service kind and the host it runs on. */
public record Sender(String service, String host) {
  public Sender {
    Objects.requireNonNull(service, "sender.service");
    Objects.requireNonNull(host, "sender.host");
  }
}
