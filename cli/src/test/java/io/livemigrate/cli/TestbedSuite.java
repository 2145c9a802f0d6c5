package io.livemigrate.cli;

import org.junit.platform.suite.api.SelectClasses;
import org.junit.platform.suite.api.Suite;

/**
 * The classes that need the machine's one libvirt testbed, run one after the other in one test JVM.
 * Surefire runs them only through this suite (cli/pom.xml), so the other JVM never waits for the
 * testbed. Each class still brings the testbed up and down itself and holds {@link Testbed#lock}
 * while it does.
 */
@Suite
@SelectClasses({
  LibvirtMigrationTest.class,
  LibvirtFeaturesTest.class,
  io.livemigrate.cli.faults.LibvirtFaultsTest.class
})
class TestbedSuite {}
