package io.livemigrate.conductor;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The conductor's boundaries: the API reaches the saga only through the interfaces at the package
 * root; the store knows nothing of the saga or the API; nothing here knows the compute agent.
 */
class ArchitectureTest {
  private static JavaClasses classes;

  @BeforeAll
  static void load() {
    classes =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.livemigrate.conductor");
  }

  @Test
  void theApiDoesNotReachIntoTheSagaOrTheStore() {
    noClasses()
        .that()
        .resideInAPackage("io.livemigrate.conductor.api..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.livemigrate.conductor.impl..", "io.livemigrate.conductor.store..")
        .because("the API depends on MigrationService, Inventory and Drains only")
        .check(classes);
  }

  @Test
  void theStoreKnowsNeitherTheSagaNorTheApi() {
    noClasses()
        .that()
        .resideInAPackage("io.livemigrate.conductor.store..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.livemigrate.conductor.impl..", "io.livemigrate.conductor.api..")
        .check(classes);
  }

  @Test
  void thePolicyIsPure() {
    noClasses()
        .that()
        .resideInAPackage("io.livemigrate.conductor.policy..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "io.livemigrate.conductor.impl..",
            "io.livemigrate.conductor.store..",
            "io.livemigrate.conductor.api..",
            "io.vertx..",
            "java.sql..")
        .check(classes);
  }

  @Test
  void theConductorDoesNotDependOnTheComputeAgent() {
    noClasses()
        .that()
        .resideInAPackage("io.livemigrate.conductor..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.livemigrate.agent..", "org.libvirt..")
        .check(classes);
  }
}
