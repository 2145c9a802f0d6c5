package io.livemigrate.cli.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What the services logged about a scenario's failures, as an operator reads it: each failed
 * migration has exactly one WARN or ERROR line that carries its request id, its migration id and
 * its reason code (the line to grep for), and no honest service's message was parked as sent by
 * someone not entitled to it.
 */
final class LogLines {
  private LogLines() {}

  /**
   * @param failures migration uuid to reason code, for the migrations that did not complete
   * @return one problem per broken rule
   */
  static List<String> check(Path dir, Map<String, String> failures) throws IOException {
    List<String> warnings = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".log")).sorted().toList()) {
        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
          if (line.contains("[WARN]") || line.contains("[ERROR]")) warnings.add(line);
        }
      }
    }
    List<String> problems = new ArrayList<>();
    for (var e : failures.entrySet()) {
      String tag = "[migration " + e.getKey() + "]";
      List<String> carrying =
          warnings.stream()
              .filter(
                  l ->
                      l.contains(tag)
                          && l.contains("[req-")
                          && e.getValue() != null
                          && l.contains(e.getValue()))
              .toList();
      if (carrying.size() != 1) {
        problems.add(
            e.getKey()
                + ": "
                + carrying.size()
                + " WARN/ERROR lines with its request id, migration id and reason "
                + e.getValue()
                + " (expected exactly one)"
                + (carrying.isEmpty() ? "" : ": " + carrying));
      }
    }
    for (String l : warnings) {
      if (l.contains("(forbidden)")) problems.add("an honest service's message was parked: " + l);
    }
    return problems;
  }
}
