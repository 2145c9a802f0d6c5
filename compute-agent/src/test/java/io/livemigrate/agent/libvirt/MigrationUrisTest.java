package io.livemigrate.agent.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class MigrationUrisTest {
  @Test
  void listedHostsGoToTheirInboundAddressOthersToTheirName() {
    MigrationUris u =
        new MigrationUris("qemu+tcp://%s/system", " HostB=10.77.88.2, HostC = 10.77.88.3 ");
    assertEquals("qemu+tcp://10.77.88.2/system", u.apply("HostB"));
    assertEquals("qemu+tcp://10.77.88.3/system", u.apply("HostC"));
    assertEquals("qemu+tcp://compute-9/system", u.apply("compute-9"));
  }

  @Test
  void emptyMapUsesHostNames() {
    assertEquals("qemu+ssh://h1/system", new MigrationUris("qemu+ssh://%s/system", "").apply("h1"));
  }

  @Test
  void malformedEntryIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> new MigrationUris("%s", "HostB"));
    assertThrows(IllegalArgumentException.class, () -> new MigrationUris("%s", "HostB="));
  }
}
