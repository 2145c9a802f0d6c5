package io.livemigrate.agent.libvirt;

import java.io.StringReader;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.xml.sax.InputSource;

/**
 * Whose a domain is, from its XML's {@code <metadata>}: Nova's {@code <nova:instance>} (what
 * nova-compute writes into every domain it defines: the owner's project and user ids, the flavor),
 * else livemigrate's own element ({@link LibvirtHypervisor#METADATA_NS}: project, user, flavor,
 * disk_gb), else nothing: the server then has no project (only admins see it) and the flavor
 * "custom".
 *
 * @param diskGb the flavor's root disk, GB (0 = unknown)
 */
record DomainMetadata(String projectId, String userId, String flavor, long diskGb) {
  static final String NOVA_NS_PREFIX = "http://openstack.org/xmlns/libvirt/nova/";
  static final DomainMetadata NONE = new DomainMetadata(null, null, null, 0);

  static DomainMetadata of(String domainXml) {
    Element metadata;
    try {
      DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
      f.setNamespaceAware(true);
      f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      Element root =
          f.newDocumentBuilder()
              .parse(new InputSource(new StringReader(domainXml)))
              .getDocumentElement();
      metadata = child(root, null, "metadata");
    } catch (Exception e) {
      return NONE;
    }
    if (metadata == null) return NONE;
    DomainMetadata ours = NONE;
    for (Node n = metadata.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (!(n instanceof Element e) || e.getNamespaceURI() == null) continue;
      String ns = e.getNamespaceURI();
      if (ns.startsWith(NOVA_NS_PREFIX) && "instance".equals(e.getLocalName())) return nova(e, ns);
      if (ns.equals(LibvirtHypervisor.METADATA_NS)) ours = own(e, ns);
    }
    return ours;
  }

  private static DomainMetadata nova(Element instance, String ns) {
    Element owner = child(instance, ns, "owner");
    Element flavor = child(instance, ns, "flavor");
    return new DomainMetadata(
        attr(child(owner, ns, "project"), "uuid"),
        attr(child(owner, ns, "user"), "uuid"),
        attr(flavor, "name"),
        number(text(child(flavor, ns, "disk"))));
  }

  private static DomainMetadata own(Element e, String ns) {
    return new DomainMetadata(
        text(child(e, ns, "project")),
        text(child(e, ns, "user")),
        text(child(e, ns, "flavor")),
        number(text(child(e, ns, "disk_gb"))));
  }

  private static Element child(Element parent, String ns, String name) {
    if (parent == null) return null;
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e
          && name.equals(e.getLocalName() == null ? e.getTagName() : e.getLocalName())
          && java.util.Objects.equals(ns, e.getNamespaceURI())) {
        return e;
      }
    }
    return null;
  }

  private static String attr(Element e, String name) {
    if (e == null) return null;
    String v = e.getAttribute(name).trim();
    return v.isEmpty() ? null : v;
  }

  private static String text(Element e) {
    if (e == null) return null;
    String v = e.getTextContent().trim();
    return v.isEmpty() ? null : v;
  }

  private static long number(String s) {
    try {
      return s == null ? 0 : Long.parseLong(s);
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
