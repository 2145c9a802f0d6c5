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

  /** Where undecodable, invalid, refused and repeatedly failing messages go, with the reason. */
  public String parkedQueue() {
    return namespace + ".parked";
  }

  /**
   * The fanout exchange services park through (into {@link #parkedQueue()}); also the dead-letter
   * exchange of quorum queues. Not the default exchange: write access to that would let any service
   * put messages straight into any queue, past the topic permissions.
   */
  public String parkingExchange() {
    return namespace + ".parking";
  }

  /**
   * The alternate exchange of {@link #commands()}: a command no queue is bound for lands in the
   * queue of the same name, where the conductor parks it with cause {@code unroutable}.
   */
  public String unroutable() {
    return namespace + ".unroutable";
  }
}
