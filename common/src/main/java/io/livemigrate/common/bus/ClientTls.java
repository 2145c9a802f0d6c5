package io.livemigrate.common.bus;

import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.TrustOptions;
import io.vertx.rabbitmq.RabbitMQOptions;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * AMQPS for the bus client: the broker's certificate must chain to the configured CA (or the JVM's
 * trust store) and, unless turned off, name the host of the transport URL; a client certificate is
 * presented when one is configured.
 *
 * <p>Why a trust manager of our own: vertx-rabbitmq-client 5.0.7 hands amqp-client a bare {@code
 * SSLContext}, and amqp-client only checks the host name when its own {@code
 * enableHostnameVerification()} was called, which the Vert.x client never does. An amqps:// URL on
 * its own would even make amqp-client trust every certificate. So the bus always sets the trust
 * options, and the trust manager asks the JDK's own check for the host name (endpoint
 * identification "HTTPS": subject alternative names, DNS or IP) on the connection being made.
 */
final class ClientTls {
  private ClientTls() {}

  static void apply(RabbitMQOptions o, BusSettings s) {
    if (!s.secure()) return;
    BusSettings.Tls t = s.tls();
    X509ExtendedTrustManager base;
    try {
      base = trustManager(t.caFile());
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "[bus] ssl_ca_file " + t.caFile() + " unusable: " + e.getMessage(), e);
    }
    TrustManager tm = t.verifyHostname() ? new HostnameChecking(base) : base;
    // Not as a URI: for amqps:// amqp-client would first install a trust-everything manager (and
    // log a security alert), which the SSL context below then replaces.
    URI u = URI.create(s.url());
    String path = u.getRawPath();
    o.setUri(null)
        .setHost(u.getHost())
        .setPort(u.getPort() > 0 ? u.getPort() : 5671)
        .setUser(s.login())
        .setPassword(password(u))
        .setVirtualHost(
            path == null || path.isEmpty()
                ? "/"
                : URLDecoder.decode(path.substring(1), StandardCharsets.UTF_8));
    // Vert.x insists on an algorithm, but only applies it to engines it creates itself, never to
    // amqp-client's sockets: empty, and the trust manager checks the name.
    o.setSsl(true)
        .setTrustAll(false)
        .setHostnameVerificationAlgorithm("")
        .setTrustOptions(TrustOptions.wrap(tm));
    if (!t.certFile().isBlank()) {
      if (t.keyFile().isBlank()) {
        throw new IllegalArgumentException("[bus] ssl_cert_file is set but ssl_key_file is not");
      }
      o.setKeyCertOptions(
          new PemKeyCertOptions().setCertPath(t.certFile()).setKeyPath(t.keyFile()));
    }
  }

  private static String password(URI u) {
    String info = u.getRawUserInfo();
    int colon = info == null ? -1 : info.indexOf(':');
    return colon < 0
        ? "guest"
        : URLDecoder.decode(info.substring(colon + 1), StandardCharsets.UTF_8);
  }

  /** The JDK's trust manager over the PEM CA file, or over the JVM's trust store when empty. */
  static X509ExtendedTrustManager trustManager(String caFile)
      throws IOException, GeneralSecurityException {
    KeyStore ks = null;
    if (caFile != null && !caFile.isBlank()) {
      ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      int n = 0;
      try (InputStream in = Files.newInputStream(Path.of(caFile))) {
        for (Certificate c : cf.generateCertificates(in)) ks.setCertificateEntry("ca" + n++, c);
      }
      if (n == 0) throw new CertificateException("no certificate in " + caFile);
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    for (TrustManager tm : tmf.getTrustManagers()) {
      if (tm instanceof X509ExtendedTrustManager x) return x;
    }
    throw new GeneralSecurityException("no X509 trust manager");
  }

  /** Chain validation by the JDK, with its host name check switched on for the connection. */
  static final class HostnameChecking extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager base;

    HostnameChecking(X509ExtendedTrustManager base) {
      this.base = base;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      if (socket instanceof SSLSocket s) {
        SSLParameters p = s.getSSLParameters();
        if (p.getEndpointIdentificationAlgorithm() == null
            || p.getEndpointIdentificationAlgorithm().isEmpty()) {
          p.setEndpointIdentificationAlgorithm("HTTPS");
          s.setSSLParameters(p);
        }
        base.checkServerTrusted(chain, authType, socket);
        return;
      }
      throw new CertificateException("cannot check the broker's host name without its socket");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      SSLParameters p = engine.getSSLParameters();
      if (p.getEndpointIdentificationAlgorithm() == null
          || p.getEndpointIdentificationAlgorithm().isEmpty()) {
        p.setEndpointIdentificationAlgorithm("HTTPS");
        engine.setSSLParameters(p);
      }
      base.checkServerTrusted(chain, authType, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      throw new CertificateException("cannot check the broker's host name without its socket");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      base.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      base.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      base.checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return base.getAcceptedIssuers();
    }
  }
}
