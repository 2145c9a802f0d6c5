package io.livemigrate.agent.impl;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.LibvirtOptions;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which hosts a compute agent may send a VM's memory to. */
class PeerHostsTest {
  static PeerHosts of(String peers, String inbound) {
    return PeerHosts.from(
        Config.defaults(
            Map.of(
                DefaultOptions.HOST.key(), "HostA",
                ComputeOptions.PEERS.key(), peers,
                LibvirtOptions.LIVE_MIGRATION_INBOUND_ADDRS.key(), inbound)));
  }

  @Test
  void onlyListedPeersWhenTheOperatorListedThem() {
    PeerHosts p = of("HostB, HostD", "HostC=10.77.88.3");
    assertTrue(p.configured());
    assertNull(p.refuse("HostB"));
    assertNull(p.refuse("HostC"), "named in live_migration_inbound_addrs");
    assertNull(p.refuse("HostD"));
    String r = p.refuse("evil.example");
    assertNotNull(r, "an unknown destination");
    assertTrue(r.contains("not a known peer of HostA"), r);
    assertNotNull(p.refuse("HostA"), "not to itself");
  }

  @Test
  void malformedNamesNeverReachALibvirtUri() {
    PeerHosts open = of("", "");
    assertFalse(open.configured());
    assertNull(open.refuse("HostB"), "any well-formed name without a list");
    for (String bad :
        new String[] {
          null, "", "a/b", "host?x=y", "evil@attacker", "10.0.0.1:16509", "-x", "a b", "h\n"
        }) {
      assertNotNull(open.refuse(bad), "refused: " + bad);
    }
  }
}
