package io.livemigrate.packaging;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/** A network namespace of a test's own (loopback up), deleted on close. Needs root. */
final class Netns implements AutoCloseable {
  final String name;

  private Netns(String name) {
    this.name = name;
  }

  /** Root and iproute2, or the test is skipped (a failure on CI, which runs as root). */
  static void requireRoot() throws Exception {
    boolean root = "root".equals(System.getProperty("user.name")) && Sh.which("ip");
    if (!root) {
      if ("true".equals(System.getenv("CI"))) Assertions.fail("CI runs as root with iproute2");
      Assumptions.abort("needs root and iproute2 for a network namespace");
    }
  }

  static Netns create(String prefix) throws Exception {
    String name = prefix + "-" + ProcessHandle.current().pid();
    Sh.run("ip", "netns", "delete", name);
    Sh.out("ip", "netns", "add", name);
    Sh.out("ip", "-n", name, "link", "set", "lo", "up");
    return new Netns(name);
  }

  List<String> exec(String... cmd) {
    List<String> l = new ArrayList<>(List.of("ip", "netns", "exec", name));
    l.addAll(List.of(cmd));
    return l;
  }

  @Override
  public void close() throws Exception {
    // Whatever still runs in it is this test's.
    for (String pid : Sh.run("ip", "netns", "pids", name).split("\\s+")) {
      if (!pid.isBlank()) Sh.run("kill", "-9", pid);
    }
    Sh.run("ip", "netns", "delete", name);
  }
}
