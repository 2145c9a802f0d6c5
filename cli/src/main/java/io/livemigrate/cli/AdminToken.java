package io.livemigrate.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;

/**
 * The all-in-one's admin token: the one given in the environment, or the one kept in the data
 * directory (generated on the first start, then reused, so an exported {@code OS_TOKEN} survives a
 * restart). Neither is ever printed: {@link #where()} says where it is.
 *
 * @param value the token
 * @param file the file it was read from or written to, or null when it came from the environment
 */
record AdminToken(String value, Path file) {
  static final String FILE_NAME = "admin-token";
  static final String ENV = "LIVEMIGRATE_ADMIN_TOKEN";

  private static final Set<PosixFilePermission> OWNER_ONLY =
      PosixFilePermissions.fromString("rw-------");

  /**
   * The token from {@code env} if set, else from {@code dataDir/admin-token}, created with mode
   * 0600 when absent.
   *
   * @throws UncheckedIOException if the file cannot be read or written
   * @throws Lifecycle.StartupFailure if the file exists but is empty
   */
  static AdminToken resolve(String env, Path dataDir) {
    if (env != null && !env.isBlank()) return new AdminToken(env.trim(), null);
    Path f = dataDir.toAbsolutePath().normalize().resolve(FILE_NAME);
    try {
      Files.createDirectories(f.getParent());
      if (!Files.exists(f)) {
        byte[] b = new byte[16];
        new SecureRandom().nextBytes(b);
        String token = HexFormat.of().formatHex(b);
        try {
          // Created with its final mode, so the token is never readable by others, even briefly.
          Files.createFile(f, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
          Files.writeString(f, token + "\n", StandardCharsets.UTF_8, StandardOpenOption.WRITE);
          return new AdminToken(token, f);
        } catch (FileAlreadyExistsException raced) {
          // Another all-in-one on the same directory created it first: use theirs.
        }
      }
      String token = Files.readString(f, StandardCharsets.UTF_8).trim();
      if (token.isEmpty()) {
        throw new Lifecycle.StartupFailure(
            Lifecycle.EXIT_CONFIG,
            "livemigrate all-in-one: " + f + " is empty; delete it to have a new token generated");
      }
      return new AdminToken(token, f);
    } catch (IOException e) {
      throw new UncheckedIOException("admin token " + f + ": " + e.getMessage(), e);
    }
  }

  /** Where the token is, for the start-up banner. */
  String where() {
    return file == null
        ? "from " + ENV + " (not shown)"
        : file + " (kept across restarts; delete it for a new one)";
  }

  /** A shell expression that yields the token, for the banner's export line. */
  String shellValue() {
    if (file == null) return "\"$" + ENV + "\"";
    String f = file.toString();
    return "$(cat "
        + (f.matches("[A-Za-z0-9/._+-]+") ? f : "'" + f.replace("'", "'\\''") + "'")
        + ")";
  }
}
