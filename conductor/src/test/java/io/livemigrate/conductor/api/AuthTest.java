package io.livemigrate.conductor.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuthTest {
  @TempDir Path dir;

  @Test
  void tokensAreLookedUpByHashWithTheirProjectAndRoles() throws Exception {
    Path f = dir.resolve("tokens");
    Files.writeString(
        f,
        "# comment\n\n"
            + Auth.sha256("m-token")
            + " p1 alice member\n"
            + Auth.sha256("o-token").toUpperCase()
            + " ops bob admin,member\n");
    Auth a = Auth.load("admin-token", f);
    Auth.Identity m = a.identify("m-token");
    assertEquals("p1", m.projectId());
    assertEquals("alice", m.userId());
    assertFalse(m.isAdmin());
    assertTrue(a.identify("o-token").isAdmin());
    assertTrue(a.identify("admin-token").isAdmin());
    assertNull(a.identify("nope"));
    assertNull(a.identify(""));
    assertNull(a.identify(null));
    // The file holds hashes: the hash itself is not a token.
    assertNull(a.identify(Auth.sha256("m-token")));
  }

  @Test
  void malformedLinesAndMissingFilesStopStartUpWithEveryProblem() throws Exception {
    Path f = dir.resolve("bad");
    Files.writeString(f, "plaintext-token p1 u1 member\n" + Auth.sha256("x") + " p1 u1\n");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Auth.load(null, f));
    assertTrue(e.getMessage().contains(":1:") && e.getMessage().contains(":2:"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Auth.load("t", dir.resolve("missing")));
  }

  @Test
  void sha256IsLowerCaseHex() {
    assertEquals(
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Auth.sha256("test"));
  }
}
