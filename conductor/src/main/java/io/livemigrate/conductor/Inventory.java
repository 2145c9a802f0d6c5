package io.livemigrate.conductor;

import io.vertx.core.Future;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the API reads of the compute hosts and servers, and the operator's service flags; reads go
 * to the store (the single source of truth), never to a conductor's memory.
 */
public interface Inventory {
  /** The binary name compute agents report under. */
  String COMPUTE_BINARY = "livemigrate-compute";

  /**
   * The servers and what a server view needs of their hosts.
   *
   * @param computeServices compute services by host
   * @param progress copy progress (0-100) of the servers that are migrating
   */
  record Servers(
      List<InstanceRow> instances,
      Map<String, ServiceRow> computeServices,
      Map<String, Integer> progress) {}

  /** A hypervisor: its service, its reported capacity, what its instances use. */
  record Node(ServiceRow service, HostRow host, Usage usage, List<InstanceRow> instances) {}

  /** A host's capacity and usage, in total and per project. */
  record HostUsage(HostRow host, Usage total, List<Usage> perProject) {}

  Future<Servers> servers();

  Future<Optional<InstanceRow>> instance(String uuid);

  /** Instances on a host (null = all). */
  Future<List<InstanceRow>> instances(String host);

  Future<List<ServiceRow>> services();

  Future<Optional<ServiceRow>> computeService(String host);

  /** Compute hosts that reported resources, with their usage. */
  Future<List<Node>> hypervisors();

  Future<Optional<HostUsage>> hostUsage(String host);

  /**
   * Changes a service's flags (any null argument keeps its value) and tells the scheduler.
   *
   * @return the updated service, or empty when there is none
   */
  Future<Optional<ServiceRow>> updateService(
      String host,
      String binary,
      Boolean disabled,
      String reason,
      Boolean forcedDown,
      String requestId);
}
