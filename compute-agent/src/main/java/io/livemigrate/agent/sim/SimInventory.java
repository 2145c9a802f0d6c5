package io.livemigrate.agent.sim;

import io.livemigrate.agent.Hypervisor.Domain;
import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.Hypervisor.IncomingSpec;
import io.livemigrate.agent.HypervisorException;
import io.livemigrate.agent.sim.SimulatedHypervisor.Snapshot;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a {@link SimulatedHypervisor} runs and reserves: its domains (running or paused), the
 * incoming reservations checked against the host's capacity, and the behaviour of guests expected
 * to arrive. Every change of domains or reservations sets a mark that {@link #snapshot()} clears,
 * so {@link SimulatedState} saves only when something changed.
 *
 * <p>Not thread-safe: the hypervisor's lock guards it.
 */
final class SimInventory {

  private final String host;
  private final HostResources capacity;
  private final Map<String, Entry> domains = new LinkedHashMap<>();
  private final Map<String, IncomingSpec> incoming = new LinkedHashMap<>();
  private final Map<String, SimDomain> incomingProfiles = new HashMap<>();
  private boolean changed;

  SimInventory(String host, HostResources capacity) {
    this.host = host;
    this.capacity = capacity;
  }

  /** The current domains and reservations; clears the change mark. */
  Snapshot snapshot() {
    changed = false;
    List<SimDomain> running = new ArrayList<>();
    List<String> paused = new ArrayList<>();
    for (Entry e : domains.values()) {
      running.add(e.spec);
      if ("paused".equals(e.state)) paused.add(e.spec.uuid());
    }
    return new Snapshot(running, paused, new ArrayList<>(incoming.values()));
  }

  /** Whether domains or reservations changed since the last {@link #snapshot()}. */
  boolean changed() {
    return changed;
  }

  /** Replaces the domains and reservations with a snapshot's; clears the change mark. */
  void restore(Snapshot s) {
    domains.clear();
    incoming.clear();
    for (SimDomain d : s.running()) {
      domains.put(d.uuid(), new Entry(d, s.paused().contains(d.uuid()) ? "paused" : "running"));
    }
    for (IncomingSpec i : s.incoming()) incoming.put(i.uuid(), i);
    changed = false;
  }

  /**
   * Adds a running domain.
   *
   * @throws IllegalArgumentException if a domain with that uuid is already here
   */
  void define(SimDomain domain) {
    if (domains.containsKey(domain.uuid())) {
      throw new IllegalArgumentException("domain already defined: " + domain.uuid());
    }
    domains.put(domain.uuid(), new Entry(domain, "running"));
    changed = true;
  }

  Optional<SimDomain> domain(String uuid) {
    Entry e = domains.get(uuid);
    return e == null ? Optional.empty() : Optional.of(e.spec);
  }

  boolean hasDomain(String uuid) {
    return domains.containsKey(uuid);
  }

  boolean hasIncoming(String uuid) {
    return incoming.containsKey(uuid);
  }

  /**
   * Changes a domain's dirty rate (its running migration is the caller's to change).
   *
   * @throws IllegalArgumentException if no such domain is here or {@code bps} is negative
   */
  void setDirtyRate(String uuid, long bps) {
    Entry e = domains.get(uuid);
    if (e == null) {
      throw new IllegalArgumentException("no domain " + uuid + " on " + host);
    }
    e.spec = e.spec.withDirtyRate(bps);
  }

  void setIncomingProfile(SimDomain profile) {
    incomingProfiles.put(profile.uuid(), profile);
  }

  List<Domain> listDomains() {
    List<Domain> out = new ArrayList<>(domains.size());
    for (Entry e : domains.values()) {
      out.add(e.spec.toDomain(e.state));
    }
    return out;
  }

  /**
   * Reserves memory and disk for an incoming instance; vCPUs may be overcommitted. Idempotent for a
   * uuid already reserved here.
   *
   * @throws HypervisorException PREPARE_FAILED if the domain already runs here, or if the free
   *     memory or disk (capacity minus domains here minus other reservations) is too small
   */
  void reserve(IncomingSpec spec) throws HypervisorException {
    if (incoming.containsKey(spec.uuid())) {
      return;
    }
    if (domains.containsKey(spec.uuid())) {
      throw new HypervisorException(
          "PREPARE_FAILED", "instance " + spec.uuid() + " already exists on " + host);
    }
    long usedMb = 0;
    long usedGb = 0;
    for (Entry e : domains.values()) {
      usedMb += e.spec.memoryMb();
      usedGb += e.spec.diskGb();
    }
    for (IncomingSpec other : incoming.values()) {
      usedMb += other.memoryMb();
      usedGb += other.diskGb();
    }
    long freeMb = capacity.memoryMb() - usedMb;
    long freeGb = capacity.diskGb() - usedGb;
    if (spec.memoryMb() > freeMb) {
      throw new HypervisorException(
          "PREPARE_FAILED",
          "insufficient memory on "
              + host
              + ": need "
              + spec.memoryMb()
              + " MB, free "
              + freeMb
              + " MB");
    }
    if (spec.diskGb() > freeGb) {
      throw new HypervisorException(
          "PREPARE_FAILED",
          "insufficient disk on "
              + host
              + ": need "
              + spec.diskGb()
              + " GB, free "
              + freeGb
              + " GB");
    }
    incoming.put(spec.uuid(), spec);
    changed = true;
  }

  void cancelIncoming(String uuid) {
    changed |= incoming.remove(uuid) != null;
    incomingProfiles.remove(uuid);
  }

  /**
   * Turns the reservation into a running domain with the spec's attributes and the profile's
   * behaviour, if one was given. A no-op if the domain already runs here.
   *
   * @throws HypervisorException NOT_FOUND if neither a reservation nor the domain is here
   */
  void finishIncoming(String uuid) throws HypervisorException {
    if (domains.containsKey(uuid)) {
      incoming.remove(uuid);
      return;
    }
    IncomingSpec spec = incoming.remove(uuid);
    if (spec == null) {
      throw new HypervisorException("NOT_FOUND", "no incoming instance " + uuid + " on " + host);
    }
    SimDomain created = SimDomain.fromIncoming(spec);
    SimDomain profile = incomingProfiles.remove(uuid);
    if (profile != null) {
      created =
          created
              .withDirtyRate(profile.dirtyRateBps())
              .withWorkingSet(profile.workingSetBytes())
              .withInstant(profile.instant());
    }
    domains.put(uuid, new Entry(created, "running"));
    changed = true;
  }

  /**
   * A guest whose transfer to this host completed: it runs here now, with the behaviour given by an
   * incoming profile if there is one; its reservation becomes the domain.
   */
  void arrive(SimDomain guest) {
    String uuid = guest.uuid();
    incoming.remove(uuid);
    if (domains.containsKey(uuid)) return;
    SimDomain profile = incomingProfiles.remove(uuid);
    SimDomain arrived =
        profile == null
            ? guest
            : guest
                .withDirtyRate(profile.dirtyRateBps())
                .withWorkingSet(profile.workingSetBytes())
                .withInstant(profile.instant());
    domains.put(uuid, new Entry(arrived, "running"));
    changed = true;
  }

  /** Shows the domain paused: suspended, or its guest moved on in post-copy. */
  void markPaused(String uuid) {
    domains.get(uuid).state = "paused";
    changed = true;
  }

  /** Shows the domain running again after its migration failed or was aborted, if it is here. */
  void resume(String uuid) {
    Entry e = domains.get(uuid);
    if (e != null) {
      e.state = "running";
      changed = true;
    }
  }

  /** Removes the domain if it is here (marked as a change either way). */
  void remove(String uuid) {
    domains.remove(uuid);
    changed = true;
  }

  private static final class Entry {
    SimDomain spec;
    String state;

    Entry(SimDomain spec, String state) {
      this.spec = spec;
      this.state = state;
    }
  }
}
