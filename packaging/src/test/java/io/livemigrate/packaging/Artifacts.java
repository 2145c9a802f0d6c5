package io.livemigrate.packaging;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** The packages and tarball this module's {@code package} phase built, found in target/. */
record Artifacts(Path root, Path target, String version) {
  static Artifacts get() {
    Path target = Path.of("target").toAbsolutePath();
    try (Stream<Path> s = Files.list(target)) {
      // The newest: earlier builds' packages (other versions) may still lie in target/.
      Path newest =
          s.filter(p -> p.getFileName().toString().matches("livemigrate-common_.*_all\\.deb"))
              .max(Comparator.comparing(p -> p.toFile().lastModified()))
              .orElseThrow(
                  () -> new IllegalStateException("no livemigrate-common deb in " + target));
      String name = newest.getFileName().toString();
      String version =
          name.substring("livemigrate-common_".length(), name.length() - "_all.deb".length());
      return new Artifacts(target.getParent().getParent(), target, version);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  Path deb(String pkg) {
    return target.resolve("livemigrate-" + pkg + "_" + version + "_all.deb");
  }

  Path tarball() {
    return target.resolve("livemigrate-" + version + ".tar.gz");
  }
}
