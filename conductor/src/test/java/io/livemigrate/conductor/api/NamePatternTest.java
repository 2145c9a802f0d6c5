package io.livemigrate.conductor.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The /servers name filter: Nova's regular expressions, without stalling the event loop. */
class NamePatternTest {
  static final List<String> EVIL =
      List.of("(.*a){12}$", "(.*){1,32000}[bc]", "((.*)*)*b", "(a{1,30}){1,30}b", "(.*a){8}!b");

  @Test
  void matchesAsARegularExpressionLikeNova() {
    assertNull(NamePattern.of(null));
    assertTrue(NamePattern.of("vm").find("my-vm1"));
    assertTrue(NamePattern.of("^vm[0-9]$").find("vm1"));
    assertFalse(NamePattern.of("^vm[0-9]$").find("vm12"));
    assertTrue(NamePattern.of("web|db").find("db1"));
    assertTrue(NamePattern.of("vm(").find("a vm(1)"), "an invalid regex is taken literally");
    assertFalse(NamePattern.of("vm(").find("vm1"));
  }

  @Test
  void aPatternThatBacktracksCatastrophicallyIsRefusedNotRunForMinutes() {
    // Each of these runs for seconds to hours on this 31-character name (JDK 17 defuses the
    // textbook (a+)+$, not these).
    String name = "a".repeat(30) + "!";
    for (String evil : EVIL) {
      NamePattern p = NamePattern.of(evil);
      ApiException e = assertThrows(ApiException.class, () -> p.find(name), evil);
      assertEquals(400, e.status());
      assertTrue(e.getMessage().contains("takes too long to match"), e.getMessage());
    }
  }

  @Test
  void theBudgetIsPerRequestNotPerName() {
    // Each name alone is cheap; a request over very many of them still ends.
    NamePattern p = NamePattern.of("(.*a){4}!b", 1_000_000); // 1 ms in all
    String name = "a".repeat(12) + "!";
    assertThrows(
        ApiException.class,
        () -> {
          for (int i = 0; i < 100_000; i++) p.find(name);
        });
  }

  @Test
  void anOverlongPatternIsRefused() {
    ApiException e =
        assertThrows(
            ApiException.class, () -> NamePattern.of("a".repeat(NamePattern.MAX_LENGTH + 1)));
    assertEquals(400, e.status());
  }
}
