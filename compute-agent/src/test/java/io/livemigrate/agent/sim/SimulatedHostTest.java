package io.livemigrate.agent.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.agent.Hypervisor.Domain;
import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.Config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulatedHostTest {
  private static final String VM1 = "d1df1b5a-70c4-4fed-98b7-423362f2c47c";
  private static final long MIB = SimDomain.MIB;

  @TempDir Path dir;

  private static Config inline(String guests) {
    return Config.defaults(Map.of("simulated.guests", guests, "DEFAULT.host", "HostB"));
  }

  @Test
  void inlineGuestsWithEveryKeyFromTheIniFile() throws IOException {
    Path conf = dir.resolve("compute.conf");
    Files.writeString(
        conf,
        "[DEFAULT]\nhost = HostB\n[simulated]\nvcpus = 8\nmemory_mb = 16384\ndisk_gb = 200\n"
            + "guests = vm1:uuid="
            + VM1
            + ",vcpus=2,memory_mb=4096,disk_gb=40,project=p1,user=u1,flavor=m1.medium,"
            + "dirty_rate_mibps=20,working_set_mib=512 ; vm2\n");
    Config c = Config.load(conf, Map.of(), Map.of());
    try (SimulatedHypervisor hv = SimulatedHost.fromConfig(c)) {
      assertEquals("HostB", hv.host());
      assertEquals(new HostResources(8, 16384, 200), hv.resources());
      List<Domain> l = hv.listDomains();
      assertEquals(2, l.size());
      assertEquals(
          new Domain(
              VM1,
              "vm1",
              "running",
              2,
              4096,
              40,
              "p1",
              "u1",
              "m1.medium",
              null,
              null,
              20L * 1024 * 1024),
          l.get(0));
      SimDomain vm1 = hv.domain(VM1).orElseThrow();
      assertEquals(20 * MIB, vm1.dirtyRateBps());
      assertEquals(512 * MIB, vm1.workingSetBytes());
      // Defaults: Nova's m1.small, owned by the admin project, not dirtying.
      Domain vm2 = l.get(1);
      assertEquals("vm2", vm2.name());
      assertEquals(1, vm2.vcpus());
      assertEquals(2048, vm2.memoryMb());
      assertEquals(20, vm2.diskGb());
      assertEquals("admin", vm2.projectId());
      assertEquals("m1.small", vm2.flavor());
      assertEquals(0, hv.domain(vm2.uuid()).orElseThrow().dirtyRateBps());
    }
  }

  @Test
  void environmentVariablesWorkAlone() {
    Config c =
        Config.load(
            null,
            Map.of(
                "LIVEMIGRATE_SIMULATED__GUESTS", "web1:memory_mb=1024;db1:vcpus=4",
                "LIVEMIGRATE_SIMULATED__MEMORY_MB", "4096",
                "LIVEMIGRATE_DEFAULT__HOST", "HostC"),
            Map.of());
    try (SimulatedHypervisor hv = SimulatedHost.fromConfig(c)) {
      assertEquals("HostC", hv.host());
      assertEquals(4096, hv.resources().memoryMb());
      assertEquals(List.of("web1", "db1"), hv.listDomains().stream().map(Domain::name).toList());
      assertEquals(4, hv.listDomains().get(1).vcpus());
    }
  }

  @Test
  void derivedUuidsAreStableAndDistinct() {
    List<SimDomain> a = SimulatedHost.guests(inline("a;b"), new HostResources(1, 1 << 20, 1000));
    List<SimDomain> again = SimulatedHost.guests(inline("a"), new HostResources(1, 1 << 20, 1000));
    assertEquals(a.get(0).uuid(), again.get(0).uuid());
    assertNotEquals(a.get(0).uuid(), a.get(1).uuid());
    assertTrue(a.get(0).uuid().matches("[0-9a-f-]{36}"), a.get(0).uuid());
  }

  @Test
  void guestsFileOfJsonLines() throws IOException {
    Path f = dir.resolve("guests.jsonl");
    Files.writeString(
        f,
        "# the admin guide's guests\n\n"
            + "{\"name\": \"vm1\", \"uuid\": \""
            + VM1
            + "\", \"memory_mb\": 2048, \"project\": \"p1\", \"dirty_rate_mibps\": 20}\n"
            + "{\"name\": \"vm2\", \"vcpus\": 2}\n");
    Config c =
        Config.defaults(
            Map.of("simulated.guests_file", f.toString(), "simulated.guests", "vm3:vcpus=1"));
    List<SimDomain> l = SimulatedHost.guests(c, SimulatedHost.capacity(c));
    assertEquals(List.of("vm3", "vm1", "vm2"), l.stream().map(SimDomain::name).toList());
    assertEquals(VM1, l.get(1).uuid());
    assertEquals("p1", l.get(1).projectId());
    assertEquals(20 * MIB, l.get(1).dirtyRateBps());
    assertEquals(2, l.get(2).vcpus());
  }

  @Test
  void everyProblemIsListedAtOnce() throws IOException {
    Path f = dir.resolve("guests.jsonl");
    Files.writeString(f, "{\"name\": \"ok1\"}\nnot json\n{\"uuid\": \"" + VM1 + "\"}\n");
    Config c =
        Config.defaults(
            Map.of(
                "simulated.guests",
                "vm1:memory=2048,vcpus=two;vm2:uuid=xyz,disk_gb=-1;vm3:oops;"
                    + "vm4:working_set_mib=4096,memory_mb=1024;vm1;bad name",
                "simulated.guests_file",
                f.toString()));
    ConfigException e =
        assertThrows(ConfigException.class, () -> SimulatedHost.fromConfig(c), "invalid guests");
    List<String> p = e.problems();
    String all = String.join("\n", p);
    assertTrue(all.contains("guest 1 (vm1): unknown key memory"), all);
    assertTrue(all.contains("known: uuid, vcpus, memory_mb"), all);
    assertTrue(all.contains("guest 1 (vm1): vcpus 'two' is not an integer"), all);
    assertTrue(all.contains("guest 2 (vm2): uuid 'xyz' is not a UUID"), all);
    assertTrue(all.contains("guest 2 (vm2): disk_gb -1 is outside 0.."), all);
    assertTrue(all.contains("guest 3 (vm3): expected key=value, got 'oops'"), all);
    assertTrue(all.contains("working_set_mib 4096 is larger than memory_mb 1024"), all);
    assertTrue(all.contains("name 'bad name' may use only"), all);
    assertTrue(all.contains(f + ":2: not a JSON object"), all);
    assertTrue(all.contains(f + ":3: a guest needs a name"), all);
    assertEquals(9, p.size(), all);
  }

  @Test
  void duplicatesAndCapacityAreChecked() {
    Config c =
        Config.defaults(
            Map.of(
                "simulated.guests",
                "a:uuid=" + VM1 + ",memory_mb=3000;a:memory_mb=3000;b:uuid=" + VM1 + ",disk_gb=90",
                "simulated.memory_mb",
                "8000",
                "simulated.disk_gb",
                "100"));
    ConfigException e = assertThrows(ConfigException.class, () -> SimulatedHost.fromConfig(c));
    String all = String.join("\n", e.problems());
    assertTrue(all.contains("guest name a is defined more than once"), all);
    assertTrue(all.contains("guests a and b have the same uuid " + VM1), all);
    assertTrue(all.contains("the guests need 8048 MiB of memory, more than the host's"), all);
    assertTrue(all.contains("the guests need 130 GiB of disk"), all);
    assertEquals(4, e.problems().size(), all);
  }

  @Test
  void aMissingGuestsFileIsOneProblem() {
    Config c = Config.defaults(Map.of("simulated.guests_file", dir.resolve("nope").toString()));
    ConfigException e = assertThrows(ConfigException.class, () -> SimulatedHost.fromConfig(c));
    assertEquals(1, e.problems().size());
    assertTrue(e.problems().get(0).startsWith("simulated.guests_file: cannot read"));
  }

  @Test
  void noGuestsIsAnEmptyHost() {
    try (SimulatedHypervisor hv = SimulatedHost.fromConfig(Config.defaults(Map.of()))) {
      assertTrue(hv.listDomains().isEmpty());
      assertEquals(new HostResources(16, 32768, 500), hv.resources());
    }
  }
}
