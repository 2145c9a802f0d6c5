package io.livemigrate.agent;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** Only the libvirt driver touches libvirt (and JNA); the agent core sees the Hypervisor SPI. */
class ArchitectureTest {
  private static final JavaClasses CLASSES =
      new ClassFileImporter()
          .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
          .importPackages("io.livemigrate");

  @Test
  void onlyTheLibvirtPackageTouchesLibvirt() {
    noClasses()
        .that()
        .resideOutsideOfPackage("io.livemigrate.agent.libvirt..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("org.libvirt..", "com.sun.jna..")
        .check(CLASSES);
  }

  @Test
  void theAgentCoreKnowsNoDriver() {
    noClasses()
        .that()
        .resideInAPackage("io.livemigrate.agent.impl..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.livemigrate.agent.libvirt..", "io.livemigrate.agent.sim..")
        .check(CLASSES);
  }
}
