package io.livemigrate.common.testing;

import io.livemigrate.common.broker.EmbeddedBroker;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The broker a test runs against: the RabbitMQ server on 127.0.0.1:5672 when it answers (it does on
 * CI), else Testcontainers' RabbitMQ where a Docker engine runs, else the embedded broker. It logs
 * which. Each fixture also hands out a fresh bus namespace so runs never see each other's queues on
 * a shared server.
 */
public final class BrokerFixture implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(BrokerFixture.class);

  /** Which broker a fixture uses. */
  public enum Kind {
    RABBITMQ,
    TESTCONTAINERS,
    EMBEDDED
  }

  private final Kind kind;
  private final String url;
  private final AutoCloseable resource;

  private BrokerFixture(Kind kind, String url, AutoCloseable resource) {
    this.kind = kind;
    this.url = url;
    this.resource = resource;
  }

  /** The best broker available, in the order RabbitMQ, Testcontainers, embedded. */
  public static BrokerFixture best() throws Exception {
    if (rabbitAnswers()) return rabbitmq();
    BrokerFixture tc = testcontainers();
    if (tc != null) return tc;
    return embedded();
  }

  /** The local RabbitMQ server; callers check {@link #rabbitAnswers()} first. */
  public static BrokerFixture rabbitmq() {
    LOG.info("broker fixture: RabbitMQ server on 127.0.0.1:5672");
    return new BrokerFixture(Kind.RABBITMQ, "amqp://guest:guest@127.0.0.1:5672", null);
  }

  public static BrokerFixture embedded() throws Exception {
    EmbeddedBroker b = EmbeddedBroker.start(0);
    LOG.info("broker fixture: embedded Qpid Broker-J on 127.0.0.1:{}", b.port());
    return new BrokerFixture(Kind.EMBEDDED, b.url(), b);
  }

  /** Testcontainers' RabbitMQ, or null when no Docker engine answers. */
  public static BrokerFixture testcontainers() {
    try {
      if (!org.testcontainers.DockerClientFactory.instance().isDockerAvailable()) {
        LOG.info("broker fixture: no Docker engine, Testcontainers skipped");
        return null;
      }
      @SuppressWarnings("resource")
      org.testcontainers.containers.RabbitMQContainer c =
          new org.testcontainers.containers.RabbitMQContainer("rabbitmq:3.13-management");
      c.start();
      LOG.info("broker fixture: Testcontainers RabbitMQ at {}", c.getAmqpUrl());
      return new BrokerFixture(
          Kind.TESTCONTAINERS, "amqp://guest:guest@" + c.getHost() + ":" + c.getAmqpPort(), c);
    } catch (Throwable e) {
      LOG.info("broker fixture: Testcontainers unavailable ({})", e.toString());
      return null;
    }
  }

  /** Whether a broker accepts connections on 127.0.0.1:5672. */
  public static boolean rabbitAnswers() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", 5672), 500);
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  public Kind kind() {
    return kind;
  }

  public String url() {
    return url;
  }

  /** A namespace no other test run uses. */
  public static String freshNamespace() {
    return "lmtest-" + UUID.randomUUID().toString().substring(0, 8);
  }

  @Override
  public void close() throws Exception {
    if (resource != null) resource.close();
  }

  @Override
  public String toString() {
    return kind.name().toLowerCase();
  }
}
