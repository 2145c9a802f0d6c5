package io.livemigrate.common.ops;

import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.OpsOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The HTTP server options every service's listeners use: the address and port, and HTTPS when a PEM
 * certificate and key are configured (optionally requiring client certificates signed by a CA). One
 * place, so the API and {@code /metrics}/{@code /health} are turned to HTTPS the same way.
 */
public final class ServerTls {
  private ServerTls() {}

  /**
   * Options for one listener.
   *
   * @param certFile PEM certificate (chain); empty = plain HTTP
   * @param keyFile PEM private key of {@code certFile}
   * @param caFile PEM CA whose client certificates are required; empty = none asked for
   */
  public static HttpServerOptions options(
      String host, int port, String certFile, String keyFile, String caFile) {
    HttpServerOptions o = new HttpServerOptions().setHost(host).setPort(port);
    boolean cert = certFile != null && !certFile.isBlank();
    boolean key = keyFile != null && !keyFile.isBlank();
    if (cert != key) {
      throw new IllegalArgumentException(
          "HTTPS needs both ssl_cert_file and ssl_key_file (only one is set)");
    }
    if (!cert) {
      if (caFile != null && !caFile.isBlank()) {
        throw new IllegalArgumentException("ssl_ca_file needs ssl_cert_file and ssl_key_file");
      }
      return o;
    }
    for (String f : new String[] {certFile, keyFile}) {
      if (!Files.isReadable(Path.of(f))) throw new IllegalArgumentException("cannot read " + f);
    }
    o.setSsl(true)
        .setKeyCertOptions(new PemKeyCertOptions().setCertPath(certFile).setKeyPath(keyFile));
    if (caFile != null && !caFile.isBlank()) {
      o.setTrustOptions(new PemTrustOptions().addCertPath(caFile))
          .setClientAuth(ClientAuth.REQUIRED);
    }
    return o;
  }

  /** {@code /metrics} and {@code /health}: {@code [ops] listen, port, ssl_*}. */
  public static HttpServerOptions ops(Config c) {
    return options(
        c.string(OpsOptions.OPS_LISTEN),
        c.integer(OpsOptions.OPS_PORT),
        c.string(OpsOptions.OPS_SSL_CERT_FILE),
        c.string(OpsOptions.OPS_SSL_KEY_FILE),
        c.string(OpsOptions.OPS_SSL_CA_FILE));
  }
}
