package io.livemigrate.conductor.store;

/** A compute host's capacity and what it permits, from its last report. */
public record HostRow(
    String host,
    String hypervisorType,
    long hypervisorVersion,
    int vcpus,
    long memoryMb,
    long diskGb,
    boolean permitPostCopy,
    boolean permitAutoConverge,
    long updatedMs) {}
