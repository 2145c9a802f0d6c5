package io.livemigrate.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.packaging.DocBlocks.Block;
import io.livemigrate.packaging.DocBlocks.Kind;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Every shell command block of README.md and docs/operations.md runs as written, or says why not.
 * The unmarked ones run here, in one shell (exports carry on from block to block), against the
 * all-in-one that the README's {@code background} block starts, inside a network namespace of this
 * test's own, so the README's fixed ports (8774, 9180-9184) collide with nothing. {@code curl}
 * fails on an HTTP error here ({@code --fail-with-body}): an example that gets a 400 fails. The
 * {@code multi-host} blocks run in {@link MultiHostIT}.
 */
class DocsCommandsIT {
  static final Path ROOT = Artifacts.get().root();
  static final List<Path> DOCS =
      List.of(ROOT.resolve("README.md"), ROOT.resolve("docs/operations.md"));

  @Test
  void docsStandAloneAndEveryBlockIsAccountedFor() throws Exception {
    for (Path doc : DOCS) {
      String text = Files.readString(doc);
      assertFalse(text.contains("shared/research"), doc + " links outside the repository");
      if (doc.getParent().equals(ROOT)) {
        assertFalse(text.contains("](../"), doc + " links outside the repository");
      } else {
        assertFalse(text.contains("](../../"), doc + " links outside the repository");
      }
      DocBlocks b = DocBlocks.read(doc);
      System.out.printf(
          "%s: %d sh blocks: %d run against the all-in-one, %d background, %d in MultiHostIT, %d skipped%n",
          ROOT.relativize(doc),
          b.blocks().size(),
          b.of(Kind.ALL_IN_ONE).size(),
          b.of(Kind.BACKGROUND).size(),
          b.of(Kind.MULTI_HOST).size(),
          b.of(Kind.SKIP).size());
      for (Block s : b.of(Kind.SKIP))
        System.out.println("  skipped " + s.label() + ": " + s.reason());
    }
    assertEquals(
        1,
        DocBlocks.read(DOCS.get(0)).of(Kind.BACKGROUND).size(),
        "the README starts the all-in-one");
  }

  @Test
  void commandsRunAsWrittenAgainstTheAllInOne() throws Exception {
    Netns.requireRoot();
    List<Block> blocks = new ArrayList<>();
    for (Path doc : DOCS) blocks.addAll(DocBlocks.read(doc).of(Kind.ALL_IN_ONE));
    Block background = DocBlocks.read(DOCS.get(0)).of(Kind.BACKGROUND).get(0);

    Path work = Files.createTempDirectory("lm-docs");
    // The paths the README uses, relative to a checkout; ./data is this test's own.
    for (String d : List.of("cli", "docs", "deploy", "bench")) {
      Files.createSymbolicLink(work.resolve(d), ROOT.resolve(d));
    }
    Path bin = Files.createDirectory(work.resolve(".bin"));
    Path curl = bin.resolve("curl");
    Files.writeString(curl, "#!/bin/sh\nexec /usr/bin/curl --fail-with-body \"$@\"\n");
    Files.setPosixFilePermissions(curl, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.createDirectory(work.resolve(".home"));
    Map<String, String> env =
        Map.of("PATH", bin + ":" + System.getenv("PATH"), "HOME", work.resolve(".home").toString());

    try (Netns ns = Netns.create("lm-docs");
        Pty aio =
            Pty.start(work, env, Duration.ofMinutes(8), ns.exec("bash", "-c", background.text()))) {
      String banner =
          aio.await(
              "the all-in-one's banner",
              Duration.ofSeconds(120),
              o -> o.contains("Ctrl-C stops it."));
      assertTrue(banner.contains("data/admin-token"), banner);

      StringBuilder script = new StringBuilder("set -euo pipefail\n");
      script.append("trap 'echo \"doc-test FAILED in $LM_BLOCK at: $BASH_COMMAND\" >&2' ERR\n");
      for (Block b : blocks) {
        script
            .append("LM_BLOCK=")
            .append(b.label())
            .append("; echo \"### ")
            .append(b.label())
            .append("\"\n");
        script.append(b.text()).append("\n");
      }
      Path file = work.resolve("docs-commands.sh");
      Files.writeString(file, script.toString());
      List<String> cmd = ns.exec("bash", file.toString());
      ProcessBuilder pb =
          new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true);
      pb.environment().keySet().removeIf(k -> k.startsWith("OS_") || k.startsWith("LIVEMIGRATE_"));
      pb.environment().putAll(env);
      Process p = pb.start();
      byte[] out;
      try (var in = p.getInputStream()) {
        out = in.readAllBytes();
      }
      assertTrue(p.waitFor(6, TimeUnit.MINUTES), "the documented commands hung");
      String output = new String(out, StandardCharsets.UTF_8);
      Files.writeString(Path.of("target", "docs-commands.log"), output);
      assertEquals(
          0, p.exitValue(), "a documented command failed (target/docs-commands.log):\n" + output);
      System.out.println("ran " + blocks.size() + " documented blocks against the all-in-one");

      aio.ctrlC();
      assertEquals(0, aio.exit(Duration.ofSeconds(60)), aio.output());
    }
  }
}
