package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminTokenTest {
  @TempDir Path dir;

  @Test
  void generatedOnceWithModeOwnerOnlyThenReused() throws Exception {
    Path data = dir.resolve("data");
    AdminToken first = AdminToken.resolve(null, data);
    Path f = data.resolve("admin-token");
    assertEquals(f.toAbsolutePath(), first.file());
    assertTrue(first.value().matches("[0-9a-f]{32}"), first.value());
    assertEquals(
        "rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)), "mode 0600");
    assertEquals(first.value(), Files.readString(f).trim());
    assertEquals(first.value(), AdminToken.resolve("", data).value(), "reused on restart");
    assertFalse(first.where().contains(first.value()), "never printed");
    assertEquals("$(cat " + f.toAbsolutePath() + ")", first.shellValue());
  }

  @Test
  void theEnvironmentWinsAndIsNeverShown() {
    AdminToken t = AdminToken.resolve("s3cret-from-env", dir);
    assertEquals("s3cret-from-env", t.value());
    assertNull(t.file());
    assertFalse(Files.exists(dir.resolve("admin-token")), "no file written for an env token");
    assertFalse(t.where().contains("s3cret"), t.where());
    assertFalse(t.shellValue().contains("s3cret"), t.shellValue());
    assertEquals("\"$LIVEMIGRATE_ADMIN_TOKEN\"", t.shellValue());
  }

  @Test
  void anEmptyFileIsAClearFailureNotAnEmptyToken() throws Exception {
    Files.writeString(dir.resolve("admin-token"), "\n");
    Lifecycle.StartupFailure e =
        assertThrows(Lifecycle.StartupFailure.class, () -> AdminToken.resolve(null, dir));
    assertTrue(e.getMessage().contains("is empty; delete it"), e.getMessage());
    assertNotEquals(0, e.exitCode);
  }

  @Test
  void aPathWithSpacesIsQuotedForTheShell() {
    AdminToken t = AdminToken.resolve(null, dir.resolve("my data"));
    assertEquals("$(cat '" + t.file() + "')", t.shellValue());
  }
}
