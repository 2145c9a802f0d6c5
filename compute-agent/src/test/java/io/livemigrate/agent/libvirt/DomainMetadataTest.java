package io.livemigrate.agent.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class DomainMetadataTest {
  /** What nova-compute writes into a domain it defines (Nova's libvirt driver, config.py). */
  private static final String NOVA =
      """
      <domain type='kvm'>
        <name>instance-0000002a</name>
        <uuid>6e1c0a3e-5b8f-4c61-9d9e-0a1b2c3d4e5f</uuid>
        <metadata>
          <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
            <nova:package version="29.0.1"/>
            <nova:name>web1</nova:name>
            <nova:creationTime>2026-11-30 09:12:44</nova:creationTime>
            <nova:flavor name="m1.small">
              <nova:memory>2048</nova:memory>
              <nova:disk>20</nova:disk>
              <nova:swap>0</nova:swap>
              <nova:ephemeral>0</nova:ephemeral>
              <nova:vcpus>1</nova:vcpus>
            </nova:flavor>
            <nova:owner>
              <nova:user uuid="85f3c1a2e0b94d6e8c7a1b2c3d4e5f60">alice</nova:user>
              <nova:project uuid="e8f2a1b3c4d54e6f8a9b0c1d2e3f4a5b">web</nova:project>
            </nova:owner>
            <nova:root type="image" uuid="0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"/>
          </nova:instance>
        </metadata>
        <memory unit='KiB'>2097152</memory>
      </domain>
      """;

  @Test
  void novasInstanceMetadataGivesOwnerAndFlavor() {
    assertEquals(
        new DomainMetadata(
            "e8f2a1b3c4d54e6f8a9b0c1d2e3f4a5b", "85f3c1a2e0b94d6e8c7a1b2c3d4e5f60", "m1.small", 20),
        DomainMetadata.of(NOVA));
  }

  @Test
  void novaWinsOverOursAndAnyPrefixIsRead() {
    String both =
        NOVA.replace(
                "<metadata>",
                "<metadata><x:instance xmlns:x='"
                    + LibvirtHypervisor.METADATA_NS
                    + "'><x:project>other</x:project></x:instance>")
            .replace("nova:", "n1:")
            .replace("xmlns:nova", "xmlns:n1");
    assertEquals("e8f2a1b3c4d54e6f8a9b0c1d2e3f4a5b", DomainMetadata.of(both).projectId());
  }

  @Test
  void ourOwnElementIsTheFallback() {
    String xml =
        "<domain><metadata><lm:instance xmlns:lm='"
            + LibvirtHypervisor.METADATA_NS
            + "'><lm:project>p1</lm:project><lm:user>u1</lm:user><lm:flavor>m1.tiny</lm:flavor>"
            + "<lm:disk_gb>1</lm:disk_gb></lm:instance></metadata></domain>";
    assertEquals(new DomainMetadata("p1", "u1", "m1.tiny", 1), DomainMetadata.of(xml));
  }

  @Test
  void aDomainWithoutEitherHasNoOwner() {
    assertEquals(DomainMetadata.NONE, DomainMetadata.of("<domain><name>x</name></domain>"));
    assertEquals(
        DomainMetadata.NONE,
        DomainMetadata.of("<domain><metadata><a:b xmlns:a='urn:x'/></metadata></domain>"));
    assertEquals(DomainMetadata.NONE, DomainMetadata.of("not xml"));
  }
}
