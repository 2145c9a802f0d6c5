package io.livemigrate.agent.impl;

import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.LibvirtOptions;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The compute hosts this agent may migrate to or take migrations from: those named in {@code
 * [compute] peers} and in {@code [libvirt] live_migration_inbound_addrs}. A command naming any
 * other host (a {@code start_migration}'s {@code destHost}, a {@code prepare_destination}'s source)
 * is refused before the name gets anywhere near a libvirt URI: a VM's memory goes only where the
 * operator said it may.
 *
 * <p>With neither option set, any well-formed host name is accepted (the conductor's inventory is
 * then the only check); a malformed one never is.
 */
public final class PeerHosts {
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

  private final String self;
  private final Set<String> peers;

  public PeerHosts(String self, Set<String> peers) {
    this.self = self;
    this.peers = Set.copyOf(peers);
  }

  public static PeerHosts from(Config c) {
    Set<String> p = new LinkedHashSet<>();
    for (String h : c.string(ComputeOptions.PEERS).split(",")) {
      if (!h.isBlank()) p.add(h.trim());
    }
    for (String pair : c.string(LibvirtOptions.LIVE_MIGRATION_INBOUND_ADDRS).split(",")) {
      int eq = pair.indexOf('=');
      if (eq > 0) p.add(pair.substring(0, eq).trim());
    }
    return new PeerHosts(c.host(), p);
  }

  /** Whether the operator listed the peers (else every well-formed name passes). */
  public boolean configured() {
    return !peers.isEmpty();
  }

  /** Why this agent must not migrate to or from {@code host}, or null when it may. */
  public String refuse(String host) {
    if (host == null || !HOST.matcher(host).matches()) {
      return "'" + host + "' is not a host name";
    }
    if (host.equals(self)) return host + " is this host itself";
    if (configured() && !peers.contains(host)) {
      return host
          + " is not a known peer of "
          + self
          + " ([compute] peers, [libvirt] live_migration_inbound_addrs: "
          + String.join(", ", peers)
          + ")";
    }
    return null;
  }
}
