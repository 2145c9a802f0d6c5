package io.livemigrate.common.bus;

/**
 * Names of every exchange and queue, under one namespace so deployments (and test runs) can share a
 * broker without seeing each other's messages.
 */
public record Topology(String namespace) {
  public String commands() {
    return namespace + ".commands";
  }

  public String events() {
    return namespace + ".events";
  }

  public String notifications() {
    return namespace + ".notifications";
  }

  public String conductorQueue() {
    return namespace + ".conductor";
  }

  public String schedulerQueue() {
    return namespace + ".scheduler";
  }

  public String computeQueue(String host) {
    return namespace + ".compute." + host;
  }

  /** Where undecodable, invalid and repeatedly failing messages go, with the reason. */
  public String parkedQueue() {
    return namespace + ".parked";
  }
}
