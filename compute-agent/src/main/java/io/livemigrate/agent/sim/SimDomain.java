package io.livemigrate.agent.sim;

import io.livemigrate.agent.Hypervisor.Domain;
import io.livemigrate.agent.Hypervisor.IncomingSpec;
import java.util.Objects;

/**
 * The spec of a simulated guest: what {@link Domain} shows plus how the guest behaves when it is
 * migrated.
 *
 * @param uuid the instance uuid, non-blank
 * @param name the domain name
 * @param vcpus virtual CPUs, positive
 * @param memoryMb memory, MiB, positive
 * @param diskGb local disk, GiB, not negative (copied only by block migration)
 * @param projectId the owning project
 * @param userId the owning user
 * @param flavor the flavor name
 * @param dirtyRateBps how fast the guest writes memory, bytes/s, not negative
 * @param workingSetBytes the memory the guest keeps rewriting, bytes; 0 = a quarter of memory
 * @param instant true for a guest whose migration completes at once (for fast tests)
 * @throws IllegalArgumentException if a value is out of range
 */
public record SimDomain(
    String uuid,
    String name,
    int vcpus,
    long memoryMb,
    long diskGb,
    String projectId,
    String userId,
    String flavor,
    long dirtyRateBps,
    long workingSetBytes,
    boolean instant) {

  /** One MiB in bytes. */
  public static final long MIB = 1L << 20;

  /** One GiB in bytes. */
  public static final long GIB = 1L << 30;

  public SimDomain {
    Objects.requireNonNull(uuid, "uuid");
    if (uuid.isBlank()) {
      throw new IllegalArgumentException("uuid must not be blank");
    }
    if (vcpus <= 0) {
      throw new IllegalArgumentException("vcpus must be positive: " + vcpus);
    }
    if (memoryMb <= 0) {
      throw new IllegalArgumentException("memoryMb must be positive: " + memoryMb);
    }
    if (diskGb < 0) {
      throw new IllegalArgumentException("diskGb must not be negative: " + diskGb);
    }
    if (dirtyRateBps < 0) {
      throw new IllegalArgumentException("dirtyRateBps must not be negative: " + dirtyRateBps);
    }
    if (workingSetBytes < 0) {
      throw new IllegalArgumentException(
          "workingSetBytes must not be negative: " + workingSetBytes);
    }
    name = name == null ? "instance-" + uuid : name;
    projectId = projectId == null ? "" : projectId;
    userId = userId == null ? "" : userId;
    flavor = flavor == null ? "" : flavor;
  }

  /**
   * A guest with 1 vCPU, the default working set and placeholder owner and flavor: enough for tests
   * and demos.
   */
  public static SimDomain of(String uuid, long memoryMb, long diskGb, long dirtyRateBps) {
    return new SimDomain(
        uuid,
        "instance-" + uuid,
        1,
        memoryMb,
        diskGb,
        "project",
        "user",
        "sim.flavor",
        dirtyRateBps,
        0,
        false);
  }

  /**
   * The guest a destination creates from an {@link IncomingSpec}: the spec's attributes, and the
   * dirty rate the source measured (the conductor carries it in prepare), else none.
   */
  public static SimDomain fromIncoming(IncomingSpec spec) {
    return new SimDomain(
        spec.uuid(),
        spec.name(),
        spec.vcpus(),
        spec.memoryMb(),
        spec.diskGb(),
        spec.projectId(),
        spec.userId(),
        spec.flavor(),
        spec.dirtyRateBps() == null ? 0 : spec.dirtyRateBps(),
        0,
        false);
  }

  /** This guest with another dirty rate. */
  public SimDomain withDirtyRate(long bps) {
    return new SimDomain(
        uuid,
        name,
        vcpus,
        memoryMb,
        diskGb,
        projectId,
        userId,
        flavor,
        bps,
        workingSetBytes,
        instant);
  }

  /** This guest with another working set (0 = a quarter of memory). */
  public SimDomain withWorkingSet(long bytes) {
    return new SimDomain(
        uuid,
        name,
        vcpus,
        memoryMb,
        diskGb,
        projectId,
        userId,
        flavor,
        dirtyRateBps,
        bytes,
        instant);
  }

  /** This guest, migrating at once or not. */
  public SimDomain withInstant(boolean on) {
    return new SimDomain(
        uuid,
        name,
        vcpus,
        memoryMb,
        diskGb,
        projectId,
        userId,
        flavor,
        dirtyRateBps,
        workingSetBytes,
        on);
  }

  /** Memory in bytes. */
  public long memoryBytes() {
    return memoryMb * MIB;
  }

  /** Disk in bytes. */
  public long diskBytes() {
    return diskGb * GIB;
  }

  /** The working set in bytes with the default applied. */
  public long effectiveWorkingSetBytes() {
    return workingSetBytes > 0 ? Math.min(workingSetBytes, memoryBytes()) : memoryBytes() / 4;
  }

  /** The SPI view of this guest in {@code state}. */
  public Domain toDomain(String state) {
    return new Domain(
        uuid,
        name,
        state,
        vcpus,
        memoryMb,
        diskGb,
        projectId,
        userId,
        flavor,
        null,
        null,
        dirtyRateBps);
  }
}
