package io.livemigrate.cli;

import io.livemigrate.common.testing.BrokerFixture;
import org.junit.jupiter.api.Assumptions;

/** The end-to-end run against the RabbitMQ server on 127.0.0.1:5672 (required on CI). */
class E2EOnRabbitMqTest extends LiveMigrationE2E {
  @Override
  BrokerFixture broker() {
    if (!BrokerFixture.rabbitAnswers()) {
      // On CI RabbitMQ must be there; only a developer machine without it may skip.
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException("RabbitMQ is not answering on 127.0.0.1:5672");
      }
      Assumptions.abort("no RabbitMQ on 127.0.0.1:5672");
    }
    return BrokerFixture.rabbitmq();
  }
}
