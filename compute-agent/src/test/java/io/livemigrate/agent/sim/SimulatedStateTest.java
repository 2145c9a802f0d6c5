package io.livemigrate.agent.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.Hypervisor.Domain;
import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.Hypervisor.IncomingSpec;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A simulated host keeps its domains and reservations across an agent restart, as libvirtd. */
class SimulatedStateTest {
  private static final HostResources CAP = new HostResources(16, 65536, 1000);

  private static SimulatedHypervisor host() {
    return new SimulatedHypervisor("HostB", CAP, 1L << 30, 20);
  }

  @Test
  void whatMigratedInOrWasReservedIsThereAfterARestart(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("sim.json");
    SimulatedHypervisor before = host();
    before.define(SimDomain.of("configured", 512, 1, 0));
    assertFalse(SimulatedState.keep(before, file), "nothing saved yet: the configuration stands");
    before.prepareIncoming(
        new IncomingSpec(
            "arrived", "vm-a", "HostA", 1, 1024, 1, false, "p1", "u1", "m1", null, null, null, null,
            7L));
    before.finishIncoming("arrived");
    before.prepareIncoming(
        new IncomingSpec("reserved", "vm-r", "HostA", 1, 256, 1, false, "p1", "u1", "m1"));
    SimulatedState.save(before, file);

    SimulatedHypervisor after = host();
    after.define(SimDomain.of("configured", 512, 1, 0));
    assertTrue(SimulatedState.keep(after, file));
    List<String> uuids = after.listDomains().stream().map(Domain::uuid).sorted().toList();
    assertEquals(List.of("arrived", "configured"), uuids);
    assertEquals(
        7L,
        after.listDomains().stream()
            .filter(d -> d.uuid().equals("arrived"))
            .findFirst()
            .orElseThrow()
            .dirtyRateBps(),
        "the guest keeps the dirty rate it came with");
    assertTrue(after.hasIncoming("reserved"));
  }
}
