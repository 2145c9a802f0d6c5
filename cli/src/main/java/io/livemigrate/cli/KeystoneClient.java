package io.livemigrate.cli;

import io.livemigrate.cli.SetupKeystone.SetupError;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

/**
 * The few calls of Keystone's identity API v3 that {@code setup keystone} makes, with an admin's
 * token; every unexpected answer is a {@link SetupError} naming the request and the status.
 */
final class KeystoneClient {
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(10))
          .build();
  private final String v3;
  private final PrintStream out;
  private String token;

  /**
   * {@code authUrl} with or without its {@code /v3}; what {@link #ensure} did goes to {@code out}.
   */
  KeystoneClient(String authUrl, PrintStream out) {
    String u = authUrl.replaceAll("/+$", "");
    this.v3 = u.endsWith("/v3") ? u : u + "/v3";
    this.out = out;
  }

  /** Authenticates the admin whose token every later call carries. */
  void login(String user, String pw, String domain, String project, String projectDomain) {
    token = authenticate(user, pw, domain, project, projectDomain);
  }

  /** The entity named by the filter, created from {@code body} when there is none. */
  JsonObject ensure(String collection, String kind, Map<String, String> filter, JsonObject body) {
    JsonArray found = list(collection, filter);
    if (!found.isEmpty()) {
      out.println(kind + " " + body.getString("name") + ": exists");
      return found.getJsonObject(0);
    }
    JsonObject created =
        call("POST", "/" + collection, new JsonObject().put(kind, body), 201)
            .getJsonObject("body")
            .getJsonObject(kind);
    out.println(kind + " " + body.getString("name") + ": created");
    return created;
  }

  JsonObject findOne(String collection, Map<String, String> filter, String kind) {
    JsonArray found = list(collection, filter);
    if (found.isEmpty()) throw new SetupError("no " + kind + " " + filter + " in Keystone");
    return found.getJsonObject(0);
  }

  JsonArray list(String collection, Map<String, String> filter) {
    StringBuilder q = new StringBuilder();
    filter.forEach(
        (k, v) -> q.append(q.length() == 0 ? "?" : "&").append(k).append('=').append(enc(v)));
    return call("GET", "/" + collection + q, null, 200)
        .getJsonObject("body")
        .getJsonArray(collection);
  }

  /** A token for the user, project-scoped when a project is given. */
  String authenticate(
      String user, String pw, String domain, String project, String projectDomainName) {
    JsonObject auth =
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
                                    .put("name", user)
                                    .put("password", pw)
                                    .put("domain", new JsonObject().put("name", domain)))));
    if (project != null) {
      auth.put(
          "scope",
          new JsonObject()
              .put(
                  "project",
                  new JsonObject()
                      .put("name", project)
                      .put("domain", new JsonObject().put("name", projectDomainName))));
    }
    HttpResponse<String> r =
        send("POST", "/auth/tokens?nocatalog", new JsonObject().put("auth", auth), null);
    if (r.statusCode() != 201) {
      throw new SetupError(
          "Keystone at " + v3 + " refused " + user + "'s credentials: HTTP " + r.statusCode());
    }
    return r.headers()
        .firstValue("X-Subject-Token")
        .orElseThrow(() -> new SetupError("Keystone issued no token"));
  }

  /** {"status": code, "body": parsed JSON or {}}; any other status than those expected fails. */
  JsonObject call(String method, String path, JsonObject body, int... expected) {
    HttpResponse<String> r = send(method, path, body, token);
    for (int e : expected) {
      if (r.statusCode() == e) {
        String b = r.body();
        return new JsonObject()
            .put("status", e)
            .put("body", b == null || b.isBlank() ? new JsonObject() : tryJson(b));
      }
    }
    throw new SetupError(
        method + " " + v3 + path + ": HTTP " + r.statusCode() + " " + clip(r.body()));
  }

  private static JsonObject tryJson(String b) {
    try {
      return new JsonObject(b);
    } catch (RuntimeException e) {
      return new JsonObject();
    }
  }

  private HttpResponse<String> send(String method, String path, JsonObject body, String tok) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(v3 + path))
            .timeout(Duration.ofSeconds(30))
            .header("Accept", "application/json");
    if (tok != null) b.header("X-Auth-Token", tok);
    if (body != null) b.header("Content-Type", "application/json");
    b.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body.encode()));
    try {
      return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (java.io.IOException e) {
      throw new SetupError("cannot reach Keystone at " + v3 + ": " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SetupError("interrupted");
    }
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private static String clip(String s) {
    return s == null ? "" : s.length() > 300 ? s.substring(0, 300) + "..." : s;
  }
}
