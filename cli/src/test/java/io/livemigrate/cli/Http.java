package io.livemigrate.cli;

import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/** A blocking HTTP client for tests, and polling with a deadline. */
public final class Http {
  /** One response. */
  public record Response(int status, String body, java.net.http.HttpHeaders headers) {
    public JsonObject json() {
      return new JsonObject(body);
    }
  }

  // HTTP/1.1 as curl, the stock clients and Prometheus speak it: the JDK client's default h2c
  // upgrade once left a scrape waiting forever for a response (no timeout then).
  private static final HttpClient CLIENT =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private final HttpClient client;
  private final String base;
  private final String token;

  public Http(String base, String token) {
    this(base, token, CLIENT);
  }

  /** Through {@code client}, e.g. one that trusts a test CA for HTTPS. */
  public Http(String base, String token, HttpClient client) {
    this.base = base;
    this.token = token;
    this.client = client;
  }

  public Response get(String path) {
    return send(HttpRequest.newBuilder(URI.create(base + path)).GET(), null);
  }

  public Response get(String path, String microversion) {
    return send(HttpRequest.newBuilder(URI.create(base + path)).GET(), microversion);
  }

  public Response post(String path, String body) {
    return post(path, body, null);
  }

  public Response post(String path, String body, String microversion) {
    return send(
        HttpRequest.newBuilder(URI.create(base + path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)),
        microversion);
  }

  public Response send(HttpRequest.Builder b, String microversion) {
    if (token != null) b.header("X-Auth-Token", token);
    if (microversion != null) b.header("X-OpenStack-Nova-API-Version", microversion);
    try {
      HttpResponse<String> r =
          client.send(
              b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      return new Response(r.statusCode(), r.body(), r.headers());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  public static String raw(String url) {
    try {
      return CLIENT
          .send(
              HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build(),
              HttpResponse.BodyHandlers.ofString())
          .body();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** Polls until the condition holds; fails with the message after the timeout. */
  public static void until(String what, Duration timeout, Supplier<Boolean> condition) {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      if (Boolean.TRUE.equals(condition.get())) return;
      LockSupport.parkNanos(Duration.ofMillis(50).toNanos());
    }
    throw new AssertionError("timed out after " + timeout + " waiting for: " + what);
  }
}
