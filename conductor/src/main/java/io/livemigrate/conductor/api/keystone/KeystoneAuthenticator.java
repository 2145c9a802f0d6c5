package io.livemigrate.conductor.api.keystone;

import io.livemigrate.conductor.api.Auth;
import io.livemigrate.conductor.api.Authenticator;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Validates tokens with Keystone's v3 API as keystonemiddleware's auth_token does for Nova: the API
 * authenticates itself with its service credentials, then asks {@code GET /v3/auth/tokens} with
 * {@code X-Auth-Token: <service token>} and {@code X-Subject-Token: <user token>}.
 *
 * <ul>
 *   <li>200: the caller is the token's user in its project; the role {@code admin} makes it an
 *       admin, anyone else is a member (Nova's default policy). Cached (by SHA-256) until the
 *       token's expiry or the cache time, whichever comes first, so a revoked token stops working
 *       within the cache time. A token without a project scope is refused (401).
 *   <li>404 (invalid, expired or revoked): 401 with {@code WWW-Authenticate: Keystone uri=...}.
 *   <li>Keystone unreachable, timing out or failing, or refusing our service credentials: 503.
 *       Tokens already in the cache keep working meanwhile, as with keystonemiddleware.
 * </ul>
 *
 * <p>The service token is issued on first use and again before it expires or when Keystone rejects
 * it. Concurrent validations of one token, and concurrent issues of the service token, share one
 * request. Everything runs on Vert.x's HTTP client; nothing blocks the caller's event loop.
 */
public final class KeystoneAuthenticator implements Authenticator {
  private static final Logger LOG = LoggerFactory.getLogger(KeystoneAuthenticator.class);

  /** Longest token accepted; Keystone's fernet tokens are about 200 characters. */
  static final int MAX_TOKEN_LENGTH = 8192;

  private record ServiceToken(String id, long refreshAtMs) {}

  private record Validated(Auth.Identity identity, long expiresAtMs) {}

  private final KeystoneSettings settings;
  private final Clock clock;
  private final WebClient client;
  private final TokenCache cache;
  private final Map<String, Future<Validated>> inFlight = new HashMap<>();
  private ServiceToken service;
  private Future<ServiceToken> issuing;

  public KeystoneAuthenticator(Vertx vertx, KeystoneSettings settings) {
    this(vertx, settings, Clock.systemUTC());
  }

  KeystoneAuthenticator(Vertx vertx, KeystoneSettings settings, Clock clock) {
    this.settings = settings;
    this.clock = clock;
    this.cache = new TokenCache(settings.cacheSize());
    this.client =
        WebClient.create(
            vertx,
            new WebClientOptions()
                .setConnectTimeout((int) settings.timeoutMs())
                .setKeepAlive(true)
                .setUserAgent("livemigrate-conductor keystone-authtoken")
                .setFollowRedirects(false));
  }

  /** Validated tokens currently cached. */
  public int cached() {
    return cache.size();
  }

  public void close() {
    client.close();
  }

  @Override
  public Future<Auth.Identity> authenticate(String token) {
    if (!plausible(token)) return Future.failedFuture(unauthorized());
    String hash = Auth.sha256(token);
    Auth.Identity hit = cache.get(hash, clock.millis());
    if (hit != null) return Future.succeededFuture(hit);
    Promise<Validated> p;
    synchronized (inFlight) {
      Future<Validated> running = inFlight.get(hash);
      if (running != null) return running.map(Validated::identity);
      p = Promise.promise();
      inFlight.put(hash, p.future());
    }
    validate(token, true)
        .onComplete(
            ar -> {
              synchronized (inFlight) {
                inFlight.remove(hash);
              }
              if (ar.succeeded()) remember(hash, ar.result());
              p.handle(ar);
            });
    return p.future().map(Validated::identity);
  }

  private void remember(String hash, Validated v) {
    if (settings.cacheTimeMs() <= 0) return;
    long until = Math.min(v.expiresAtMs(), clock.millis() + settings.cacheTimeMs());
    cache.put(hash, v.identity(), until);
  }

  /** Header-safe and of sane length; anything else cannot be a Keystone token. */
  private static boolean plausible(String token) {
    if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_LENGTH) return false;
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
  }

  private Future<Validated> validate(String token, boolean mayRenewService) {
    return serviceToken()
        .compose(
            svc ->
                send(() ->
                        client
                            .getAbs(settings.identityUrl() + "/auth/tokens")
                            .addQueryParam("nocatalog", "")
                            .putHeader("X-Auth-Token", svc.id())
                            .putHeader("X-Subject-Token", token)
                            .putHeader("Accept", "application/json"))
                    .compose(
                        r -> {
                          int s = r.statusCode();
                          if (s == 200) return parse(r);
                          // Invalid, expired or revoked (404); a token Keystone cannot even read.
                          if (s == 404 || s == 400) return Future.failedFuture(unauthorized());
                          if ((s == 401 || s == 403) && mayRenewService) {
                            // Our own token expired early or was revoked: once more with a new one.
                            forget(svc);
                            return validate(token, false);
                          }
                          LOG.error(
                              "Keystone answered {} to token validation with the service token of"
                                  + " {}; answering 503",
                              s,
                              settings.username());
                          return Future.failedFuture(
                              Authenticator.AuthenticationException.unavailable());
                        }));
  }

  private Future<Validated> parse(HttpResponse<Buffer> r) {
    JsonObject t;
    try {
      t = r.bodyAsJsonObject().getJsonObject("token");
      Instant expires = Instant.parse(t.getString("expires_at"));
      JsonObject project = t.getJsonObject("project");
      if (project == null || project.getString("id") == null) {
        // Unscoped, domain- or system-scoped: our policy is per project, as Nova's.
        return Future.failedFuture(unauthorized());
      }
      Set<String> roles = new HashSet<>();
      JsonArray rs = t.getJsonArray("roles", new JsonArray());
      for (int i = 0; i < rs.size(); i++) {
        String name = rs.getJsonObject(i).getString("name");
        if (name != null) roles.add(name.toLowerCase(Locale.ROOT));
      }
      roles.add("member");
      Auth.Identity id =
          new Auth.Identity(
              project.getString("id"), t.getJsonObject("user").getString("id"), Set.copyOf(roles));
      return Future.succeededFuture(new Validated(id, expires.toEpochMilli()));
    } catch (RuntimeException e) {
      LOG.error("Keystone's token validation answer is not a v3 token: {}", e.toString());
      return Future.failedFuture(Authenticator.AuthenticationException.unavailable());
    }
  }

  private Future<ServiceToken> serviceToken() {
    Promise<ServiceToken> p;
    synchronized (this) {
      if (service != null && clock.millis() < service.refreshAtMs()) {
        return Future.succeededFuture(service);
      }
      if (issuing != null) return issuing;
      p = Promise.promise();
      issuing = p.future();
    }
    issue()
        .onComplete(
            ar -> {
              synchronized (this) {
                issuing = null;
                if (ar.succeeded()) service = ar.result();
              }
              p.handle(ar);
            });
    return p.future();
  }

  private synchronized void forget(ServiceToken svc) {
    if (service == svc) service = null;
  }

  private Future<ServiceToken> issue() {
    JsonObject body =
        new JsonObject()
            .put(
                "auth",
                new JsonObject()
                    .put(
                        "identity",
                        new JsonObject()
                            .put("methods", new JsonArray().add("password"))
                            .put(
                                "password",
                                new JsonObject()
                                    .put(
                                        "user",
                                        new JsonObject()
                                            .put("name", settings.username())
                                            .put("password", settings.password())
                                            .put(
                                                "domain",
                                                new JsonObject()
                                                    .put("name", settings.userDomainName())))))
                    .put(
                        "scope",
                        new JsonObject()
                            .put(
                                "project",
                                new JsonObject()
                                    .put("name", settings.projectName())
                                    .put(
                                        "domain",
                                        new JsonObject()
                                            .put("name", settings.projectDomainName())))));
    long asked = clock.millis();
    return sendBody(
            () ->
                client
                    .postAbs(settings.identityUrl() + "/auth/tokens")
                    .addQueryParam("nocatalog", "")
                    .putHeader("Accept", "application/json"),
            body)
        .compose(
            r -> {
              String id = r.getHeader("X-Subject-Token");
              if (r.statusCode() != 201 || id == null) {
                LOG.error(
                    "Keystone refused the API's service credentials ([keystone_authtoken] user {}"
                        + " in project {}): HTTP {}; answering 503",
                    settings.username(),
                    settings.projectName(),
                    r.statusCode());
                return Future.failedFuture(Authenticator.AuthenticationException.unavailable());
              }
              long expires;
              try {
                expires =
                    Instant.parse(
                            r.bodyAsJsonObject().getJsonObject("token").getString("expires_at"))
                        .toEpochMilli();
              } catch (RuntimeException e) {
                LOG.error("Keystone's service token answer has no expiry: {}", e.toString());
                return Future.failedFuture(Authenticator.AuthenticationException.unavailable());
              }
              // Renew ahead of expiry (by half the lifetime, at most a minute), so a validation
              // never goes out with a token that expires on the way.
              long margin = Math.min(60_000, Math.max(0, (expires - asked) / 2));
              return Future.succeededFuture(new ServiceToken(id, expires - margin));
            });
  }

  private Future<HttpResponse<Buffer>> send(Supplier<HttpRequest<Buffer>> request) {
    return attempt(() -> request.get().timeout(settings.timeoutMs()).send(), settings.maxRetries());
  }

  private Future<HttpResponse<Buffer>> sendBody(
      Supplier<HttpRequest<Buffer>> request, JsonObject body) {
    return attempt(
        () -> request.get().timeout(settings.timeoutMs()).sendJsonObject(body),
        settings.maxRetries());
  }

  /**
   * Retries only a failed connection (refused, or a pooled one the server closed), not a slow one.
   */
  private Future<HttpResponse<Buffer>> attempt(
      Supplier<Future<HttpResponse<Buffer>>> call, int retriesLeft) {
    Future<HttpResponse<Buffer>> f;
    try {
      f = call.get();
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    return f.recover(
        e -> {
          if (retriesLeft > 0 && connectionFailure(e)) return attempt(call, retriesLeft - 1);
          LOG.error(
              "Keystone at {} cannot be reached: {}; answering 503",
              settings.identityUrl(),
              e.toString());
          return Future.failedFuture(Authenticator.AuthenticationException.unavailable());
        });
  }

  private static boolean connectionFailure(Throwable e) {
    return (e instanceof IOException || e instanceof HttpClosedException)
        && !(e instanceof java.util.concurrent.TimeoutException)
        && !e.getClass().getSimpleName().contains("Timeout");
  }

  private Authenticator.AuthenticationException unauthorized() {
    return Authenticator.AuthenticationException.unauthorized(settings.challenge());
  }
}
