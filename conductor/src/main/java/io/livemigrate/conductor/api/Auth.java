package io.livemigrate.conductor.api;

import io.vertx.core.Future;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Who a token belongs to. Tokens are kept only as SHA-256 hashes: the token file holds one line per
 * token, {@code <sha256-hex> <project_id> <user_id> <role>[,<role>...]}, blank lines and {@code #}
 * comments ignored. The admin token given at start-up (LIVEMIGRATE_ADMIN_TOKEN) is hashed in memory
 * and maps to project {@code admin} with role {@code admin}.
 *
 * <p>Lookups are constant-time per candidate hash. Immutable after construction; thread-safe.
 */
public final class Auth implements Authenticator {
  /** An authenticated caller. */
  public record Identity(String projectId, String userId, Set<String> roles) {
    public boolean isAdmin() {
      return roles.contains("admin");
    }
  }

  private final Map<String, Identity> byHash;

  private Auth(Map<String, Identity> byHash) {
    this.byHash = Map.copyOf(byHash);
  }

  /**
   * Loads the token file (if any) and adds the admin token.
   *
   * @param adminToken the all-in-one / conductor admin token; null or blank adds none
   * @param tokenFile the hash file; null = none
   * @throws IllegalArgumentException listing every malformed line, or when the file is unreadable
   */
  public static Auth load(String adminToken, Path tokenFile) {
    Map<String, Identity> m = new HashMap<>();
    if (tokenFile != null) {
      List<String> lines;
      try {
        lines = Files.readAllLines(tokenFile, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new IllegalArgumentException("token file " + tokenFile + " is not readable: " + e);
      }
      List<String> problems = new ArrayList<>();
      for (int n = 0; n < lines.size(); n++) {
        String line = lines.get(n).strip();
        if (line.isEmpty() || line.startsWith("#")) continue;
        String[] f = line.split("\\s+");
        if (f.length != 4 || !f[0].matches("[0-9a-fA-F]{64}")) {
          problems.add(
              tokenFile
                  + ":"
                  + (n + 1)
                  + ": expected '<sha256-hex> <project_id> <user_id> <role>[,<role>]'");
          continue;
        }
        m.put(
            f[0].toLowerCase(Locale.ROOT),
            new Identity(f[1], f[2], Set.of(f[3].toLowerCase(Locale.ROOT).split(","))));
      }
      if (!problems.isEmpty()) throw new IllegalArgumentException(String.join("\n", problems));
    }
    if (adminToken != null && !adminToken.isBlank()) {
      m.put(sha256(adminToken), new Identity("admin", "admin", Set.of("admin", "member")));
    }
    return new Auth(m);
  }

  /** The caller of this token, or null when it is unknown. */
  public Identity identify(String token) {
    if (token == null || token.isEmpty() || token.length() > 4096) return null;
    byte[] h = sha256(token).getBytes(StandardCharsets.US_ASCII);
    Identity found = null;
    // Compare against every entry so the time taken does not tell which prefix matched.
    for (Map.Entry<String, Identity> e : byHash.entrySet()) {
      if (MessageDigest.isEqual(h, e.getKey().getBytes(StandardCharsets.US_ASCII))) {
        found = e.getValue();
      }
    }
    return found;
  }

  /** {@link #identify} as an {@link Authenticator}: an unknown token is a 401. */
  @Override
  public Future<Identity> authenticate(String token) {
    Identity id = identify(token);
    return id != null
        ? Future.succeededFuture(id)
        : Future.failedFuture(AuthenticationException.unauthorized(null));
  }

  /** Lower-case hex SHA-256 of the token's UTF-8 bytes: what the token file stores. */
  public static String sha256(String token) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
