package io.livemigrate.common.bus;

import io.livemigrate.common.config.BusOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

/**
 * What the bus adapter needs from configuration.
 *
 * @param verifyIdentity {@code auto}, {@code true} or {@code false}: see {@link Identities#resolve}
 * @param identityPrefix prefix of the broker user names
 * @param queueType {@code quorum} or {@code classic}
 * @param deliveryLimit quorum queues: deliveries after which the broker parks a message
 * @param tls AMQPS settings, used when the URL is {@code amqps://}
 */
public record BusSettings(
    String url,
    String namespace,
    int prefetch,
    long confirmTimeoutMs,
    long reconnectIntervalMs,
    int maxDeliveries,
    String verifyIdentity,
    String identityPrefix,
    String queueType,
    int deliveryLimit,
    Tls tls) {

  /**
   * AMQPS settings.
   *
   * @param caFile PEM CA(s) the broker's certificate must chain to; empty = the JVM's trust store
   * @param certFile PEM client certificate, optional
   * @param keyFile PEM private key of {@code certFile}
   * @param verifyHostname whether the broker's certificate must name the URL's host
   */
  public record Tls(String caFile, String certFile, String keyFile, boolean verifyHostname) {
    public static final Tls DEFAULT = new Tls("", "", "", true);
  }

  /** Settings with the defaults for everything this issue added (tests, older callers). */
  public BusSettings(
      String url,
      String namespace,
      int prefetch,
      long confirmTimeoutMs,
      long reconnectIntervalMs,
      int maxDeliveries) {
    this(
        url,
        namespace,
        prefetch,
        confirmTimeoutMs,
        reconnectIntervalMs,
        maxDeliveries,
        "auto",
        "",
        "quorum",
        20,
        Tls.DEFAULT);
  }

  public static BusSettings from(Config c) {
    return new BusSettings(
        c.string(DefaultOptions.TRANSPORT_URL),
        c.string(DefaultOptions.BUS_NAMESPACE),
        c.integer(BusOptions.PREFETCH),
        c.longValue(BusOptions.CONFIRM_TIMEOUT_MS),
        c.longValue(BusOptions.RECONNECT_INTERVAL_MS),
        c.integer(BusOptions.MAX_DELIVERIES),
        c.string(BusOptions.VERIFY_IDENTITY),
        c.string(BusOptions.IDENTITY_PREFIX),
        c.string(BusOptions.QUEUE_TYPE),
        c.integer(BusOptions.DELIVERY_LIMIT),
        new Tls(
            c.string(BusOptions.BUS_SSL_CA_FILE),
            c.string(BusOptions.BUS_SSL_CERT_FILE),
            c.string(BusOptions.BUS_SSL_KEY_FILE),
            c.bool(BusOptions.BUS_SSL_VERIFY_HOSTNAME)));
  }

  public Topology topology() {
    return new Topology(namespace);
  }

  public BusSettings withUrl(String newUrl) {
    return new BusSettings(
        newUrl,
        namespace,
        prefetch,
        confirmTimeoutMs,
        reconnectIntervalMs,
        maxDeliveries,
        verifyIdentity,
        identityPrefix,
        queueType,
        deliveryLimit,
        tls);
  }

  public BusSettings withTls(Tls newTls) {
    return new BusSettings(
        url,
        namespace,
        prefetch,
        confirmTimeoutMs,
        reconnectIntervalMs,
        maxDeliveries,
        verifyIdentity,
        identityPrefix,
        queueType,
        deliveryLimit,
        newTls);
  }

  public BusSettings withVerifyIdentity(String mode) {
    return new BusSettings(
        url,
        namespace,
        prefetch,
        confirmTimeoutMs,
        reconnectIntervalMs,
        maxDeliveries,
        mode,
        identityPrefix,
        queueType,
        deliveryLimit,
        tls);
  }

  /** Whether the URL asks for TLS. */
  public boolean secure() {
    return url.startsWith("amqps://");
  }

  /**
   * The user the URL logs in as: what the broker validates {@code user_id} against, and so what
   * every publish puts there. {@code guest} when the URL names none (the client's default).
   */
  public String login() {
    return loginOf(url);
  }

  static String loginOf(String url) {
    String info = URI.create(url).getRawUserInfo();
    if (info == null || info.isEmpty()) return "guest";
    int colon = info.indexOf(':');
    String user = colon < 0 ? info : info.substring(0, colon);
    return URLDecoder.decode(user, StandardCharsets.UTF_8);
  }

  /** The URL without its password, for logs and error messages. */
  public String redactedUrl() {
    return url.replaceAll("//([^:@/]*):[^@/]*@", "//$1:***@");
  }
}
