package io.livemigrate.common.testing;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificates a test makes for itself (Bouncy Castle, which the embedded broker brings anyway): a
 * CA, and server and client certificates it signs, written as PEM files (keys as PKCS#8).
 */
public final class TestPki {
  private final Path dir;
  private final KeyPair caKeys;
  private final X509Certificate ca;
  private final Path caFile;

  /** A PEM certificate and its key. */
  public record Issued(Path cert, Path key) {}

  private TestPki(Path dir, KeyPair caKeys, X509Certificate ca, Path caFile) {
    this.dir = dir;
    this.caKeys = caKeys;
    this.ca = ca;
    this.caFile = caFile;
  }

  /** A new CA named {@code name}, its files in {@code dir}. */
  public static TestPki create(Path dir, String name) throws Exception {
    Files.createDirectories(dir);
    KeyPair keys = keys();
    X500Name subject = new X500Name("CN=" + name);
    X509v3CertificateBuilder b =
        new JcaX509v3CertificateBuilder(
            subject, serial(), notBefore(), notAfter(), subject, keys.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    X509Certificate ca = sign(b, keys.getPrivate());
    TestPki pki = new TestPki(dir, keys, ca, dir.resolve(name + ".pem"));
    pki.write(pki.caFile, ca);
    return pki;
  }

  /** The CA certificate's PEM file. */
  public Path caFile() {
    return caFile;
  }

  /** A server certificate for the given DNS names and IP addresses. */
  public Issued server(String file, List<String> dnsNames, List<String> ips) throws Exception {
    List<GeneralName> names = new ArrayList<>();
    for (String d : dnsNames) names.add(new GeneralName(GeneralName.dNSName, d));
    for (String ip : ips) names.add(new GeneralName(GeneralName.iPAddress, ip));
    String cn = dnsNames.isEmpty() ? ips.get(0) : dnsNames.get(0);
    return issue(file, cn, names, KeyPurposeId.id_kp_serverAuth);
  }

  /** A client certificate with common name {@code cn}. */
  public Issued client(String file, String cn) throws Exception {
    return issue(file, cn, List.of(), KeyPurposeId.id_kp_clientAuth);
  }

  private Issued issue(String file, String cn, List<GeneralName> names, KeyPurposeId purpose)
      throws Exception {
    KeyPair keys = keys();
    X509v3CertificateBuilder b =
        new JcaX509v3CertificateBuilder(
            ca, serial(), notBefore(), notAfter(), new X500Name("CN=" + cn), keys.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    b.addExtension(
        Extension.keyUsage,
        true,
        new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
    b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
    if (!names.isEmpty()) {
      b.addExtension(
          Extension.subjectAlternativeName,
          false,
          new GeneralNames(names.toArray(new GeneralName[0])));
    }
    X509Certificate cert = sign(b, caKeys.getPrivate());
    Path certFile = dir.resolve(file + ".crt");
    Path keyFile = dir.resolve(file + ".key");
    write(certFile, cert);
    writeKey(keyFile, keys.getPrivate());
    return new Issued(certFile, keyFile);
  }

  private static KeyPair keys() throws Exception {
    // RSA: the embedded broker's PEM key store reads RSA keys only.
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    return g.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(64, new SecureRandom());
  }

  private static Date notBefore() {
    return Date.from(Instant.now().minus(Duration.ofHours(1)));
  }

  private static Date notAfter() {
    return Date.from(Instant.now().plus(Duration.ofDays(2)));
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws Exception {
    ContentSigner signer = new JcaContentSignerBuilder("SHA256withRSA").build(key);
    return new JcaX509CertificateConverter().getCertificate(b.build(signer));
  }

  private void write(Path file, Object pem) throws IOException {
    StringWriter s = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(s)) {
      w.writeObject(pem);
    }
    Files.writeString(file, s.toString());
  }

  private void writeKey(Path file, PrivateKey key) throws IOException {
    StringWriter s = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(s)) {
      w.writeObject(new JcaPKCS8Generator(key, null));
    }
    Files.writeString(file, s.toString());
  }
}
