package io.livemigrate.packaging;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shell command blocks of a Markdown document: every fenced block whose info string is {@code
 * sh}, with the {@code <!-- doc-test: KIND[ WHERE][: reason] -->} comment on the line before it.
 *
 * <ul>
 *   <li>no comment: run against the all-in-one (DocsCommandsIT);
 *   <li>{@code background}: a long-running command DocsCommandsIT starts first and stops with
 *       Ctrl-C;
 *   <li>{@code multi-host controller|compute}: run by MultiHostIT on that host;
 *   <li>{@code skip: reason}: not run, for the reason given.
 * </ul>
 */
record DocBlocks(Path file, List<Block> blocks) {
  enum Kind {
    ALL_IN_ONE,
    BACKGROUND,
    MULTI_HOST,
    SKIP
  }

  /** One block: where it starts (1-based line of its first command), how it runs, its text. */
  record Block(Path file, int line, Kind kind, String where, String reason, String text) {
    String label() {
      return file.getFileName() + ":" + line;
    }
  }

  static final Pattern MARK =
      Pattern.compile("<!--\\s*doc-test:\\s*([a-z-]+)(?:\\s+([a-z]+))?\\s*(?::\\s*(.*?))?\\s*-->");

  static DocBlocks read(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Block> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      if (!lines.get(i).trim().startsWith("```")) continue;
      String info = lines.get(i).trim().substring(3).trim();
      int end = i + 1;
      while (end < lines.size() && !lines.get(end).trim().startsWith("```")) end++;
      if (info.equals("sh")) {
        String mark = i > 0 ? lines.get(i - 1).trim() : "";
        Kind kind = Kind.ALL_IN_ONE;
        String where = null;
        String reason = null;
        Matcher m = MARK.matcher(mark);
        if (m.matches()) {
          kind =
              switch (m.group(1)) {
                case "background" -> Kind.BACKGROUND;
                case "multi-host" -> Kind.MULTI_HOST;
                case "skip" -> Kind.SKIP;
                default ->
                    throw new IllegalStateException(
                        file + ":" + i + ": unknown doc-test kind " + m.group(1));
              };
          where = m.group(2);
          reason = m.group(3);
          if (kind == Kind.SKIP && (reason == null || reason.isBlank())) {
            throw new IllegalStateException(file + ":" + i + ": a skipped block needs its reason");
          }
          if (kind == Kind.MULTI_HOST && !List.of("controller", "compute").contains(where)) {
            throw new IllegalStateException(
                file + ":" + i + ": multi-host needs controller or compute");
          }
        } else if (mark.contains("doc-test")) {
          throw new IllegalStateException(
              file + ":" + i + ": unreadable doc-test comment: " + mark);
        }
        out.add(
            new Block(
                file, i + 2, kind, where, reason, String.join("\n", lines.subList(i + 1, end))));
      }
      i = end;
    }
    return new DocBlocks(file, out);
  }

  List<Block> of(Kind kind) {
    return blocks.stream().filter(b -> b.kind() == kind).toList();
  }
}
