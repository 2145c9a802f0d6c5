package io.livemigrate.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A small blocking client of our Nova-compatible API for the CLI commands. Every call sends {@code
 * X-Auth-Token} and a microversion; a non-2xx answer throws {@link ApiError} carrying Nova's
 * message and the request id, which the commands print and turn into exit status 1.
 */
final class ApiClient {
  /** An API refusal or a transport failure, with the text to show the operator. */
  static final class ApiError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int status;

    ApiError(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  static final String VERSION = "2.65";

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final String endpoint;
  private final String token;

  ApiClient(String endpoint, String token) {
    if (endpoint == null || endpoint.isBlank()) {
      throw new ApiError(0, "no endpoint: give --os-endpoint or set OS_ENDPOINT");
    }
    if (token == null || token.isBlank()) {
      throw new ApiError(0, "no token: give --os-token or set OS_TOKEN");
    }
    this.endpoint =
        endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint;
    this.token = token;
  }

  JsonObject get(String path) {
    return send("GET", path, null, VERSION);
  }

  /** The objects of the list {@code key} that a GET of {@code path} answers. */
  List<JsonObject> list(String path, String key) {
    List<JsonObject> l = new ArrayList<>();
    for (Object o : get(path).getJsonArray(key)) l.add((JsonObject) o);
    return l;
  }

  /** {@code path}, filtered to one host when {@code host} is given. */
  static String onHost(String path, String host) {
    return path + (host == null ? "" : "?host=" + q(host));
  }

  JsonObject send(String method, String path, JsonObject body, String version) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(endpoint + path))
            .timeout(Duration.ofSeconds(30))
            .header("X-Auth-Token", token)
            .header("X-OpenStack-Nova-API-Version", version)
            .header("Accept", "application/json");
    if (body != null) b.header("Content-Type", "application/json");
    b.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body.encode()));
    HttpResponse<String> r;
    try {
      r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (Exception e) {
      throw new ApiError(0, "cannot reach " + endpoint + ": " + e.getMessage());
    }
    String reqId = r.headers().firstValue("X-Compute-Request-Id").orElse("-");
    if (r.statusCode() >= 300) {
      String msg = r.body();
      try {
        JsonObject o = new JsonObject(r.body());
        JsonObject f = o.getJsonObject(o.fieldNames().iterator().next());
        msg = f.getString("message");
      } catch (RuntimeException e) {
        // not Nova's shape; show the raw body
      }
      throw new ApiError(
          r.statusCode(), msg + " (HTTP " + r.statusCode() + ") (Request-ID: " + reqId + ")");
    }
    return r.body() == null || r.body().isBlank() ? new JsonObject() : new JsonObject(r.body());
  }

  static String q(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /** A server by UUID or exact name, as the stock clients resolve it. */
  JsonObject server(String nameOrId) {
    if (nameOrId.matches("[0-9a-fA-F-]{36}")) {
      return get("/servers/" + nameOrId).getJsonObject("server");
    }
    // The API matches name as a pattern; keep only the exact name, as novaclient does.
    JsonArray l = get("/servers/detail?name=" + q(nameOrId)).getJsonArray("servers");
    List<JsonObject> exact = new ArrayList<>();
    for (Object o : l) {
      if (nameOrId.equals(((JsonObject) o).getString("name"))) exact.add((JsonObject) o);
    }
    if (exact.isEmpty()) {
      throw new ApiError(404, "No server with a name or ID of '" + nameOrId + "' exists.");
    }
    if (exact.size() > 1) {
      throw new ApiError(409, "More than one server exists with the name '" + nameOrId + "'.");
    }
    return exact.get(0);
  }

  /** Server names by uuid, for columns that would otherwise show only uuids. */
  Map<String, String> serverNames() {
    Map<String, String> m = new HashMap<>();
    for (Object o : get("/servers/detail").getJsonArray("servers")) {
      JsonObject s = (JsonObject) o;
      m.put(s.getString("id"), s.getString("name"));
    }
    return m;
  }

  /** The newest migration of a server, or null when it has none. */
  JsonObject newestMigration(String serverId) {
    JsonArray l =
        get("/os-migrations?instance_uuid=" + serverId + "&limit=1").getJsonArray("migrations");
    return l.isEmpty() ? null : l.getJsonObject(0);
  }
}
