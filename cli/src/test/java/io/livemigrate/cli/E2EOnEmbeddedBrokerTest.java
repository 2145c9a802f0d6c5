package io.livemigrate.cli;

import io.livemigrate.common.testing.BrokerFixture;

/** The same end-to-end run against the embedded broker of the all-in-one. */
class E2EOnEmbeddedBrokerTest extends LiveMigrationE2E {
  @Override
  BrokerFixture broker() throws Exception {
    return BrokerFixture.embedded();
  }
}
