package io.livemigrate.conductor.api;

import io.vertx.core.Future;
import java.util.List;

/**
 * Who an {@code X-Auth-Token} belongs to. Implementations: the token file and admin token ({@link
 * Auth}) and Keystone ({@code keystone.KeystoneAuthenticator}); {@link #firstOf} chains them.
 *
 * <p>Contract: the future succeeds with the caller, or fails with an {@link
 * AuthenticationException}: 401 for a token that is unknown, invalid, expired or revoked, 503 when
 * the authority that would know cannot be asked. Never fails open. Completes on the caller's
 * context; must not block it.
 */
public interface Authenticator {
  Future<Auth.Identity> authenticate(String token);

  /**
   * Asks each in turn; the first success wins. A 401 moves on to the next; a 503 stops there, since
   * the token may well be valid. All 401: the last one's answer (its WWW-Authenticate challenge).
   */
  static Authenticator firstOf(List<Authenticator> chain) {
    List<Authenticator> all = List.copyOf(chain);
    if (all.size() == 1) return all.get(0);
    return token -> tryFrom(all, 0, token);
  }

  private static Future<Auth.Identity> tryFrom(List<Authenticator> all, int i, String token) {
    return all.get(i)
        .authenticate(token)
        .recover(
            e -> {
              boolean unknown = e instanceof AuthenticationException a && a.status() == 401;
              if (!unknown || i + 1 == all.size()) return Future.failedFuture(e);
              return tryFrom(all, i + 1, token);
            });
  }

  /** Why a token was not accepted: the HTTP status (401 or 503) and Nova's message. */
  final class AuthenticationException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String challenge;

    public AuthenticationException(int status, String message, String challenge) {
      super(message, null, false, false);
      this.status = status;
      this.challenge = challenge;
    }

    /** 401 in Nova's (and keystonemiddleware's) words. */
    public static AuthenticationException unauthorized(String challenge) {
      return new AuthenticationException(
          401, "The request you have made requires authentication.", challenge);
    }

    /** 503 in keystonemiddleware's words. */
    public static AuthenticationException unavailable() {
      return new AuthenticationException(
          503, "The Keystone service is temporarily unavailable.", null);
    }

    public int status() {
      return status;
    }

    /** The WWW-Authenticate value of a 401, e.g. {@code Keystone uri="..."}; null = none. */
    public String challenge() {
      return challenge;
    }
  }
}
