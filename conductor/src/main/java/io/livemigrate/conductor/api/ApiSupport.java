package io.livemigrate.conductor.api;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.regex.Pattern;

/** Helpers shared by the API's route classes: errors, microversions, identity, bodies. */
final class ApiSupport {
  private ApiSupport() {}

  static final String MIN_VERSION = "2.1";
  static final String MAX_VERSION = "2.65";
  static final Pattern UUID_RE =
      Pattern.compile(
          "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$");
  static final DateTimeFormatter NOVA_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS").withZone(ZoneOffset.UTC);
  static final DateTimeFormatter SERVER_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

  /** Nova's fault key per status; novaclient reads {@code body[firstKey].message}. */
  static String errorKey(int status) {
    return switch (status) {
      case 400 -> "badRequest";
      case 401 -> "unauthorized";
      case 403 -> "forbidden";
      case 404 -> "itemNotFound";
      case 405 -> "badMethod";
      case 409 -> "conflictingRequest";
      case 413, 429 -> "overLimit";
      case 501 -> "notImplemented";
      case 503 -> "serviceUnavailable";
      default -> "computeFault";
    };
  }

  static void error(RoutingContext ctx, int status, String message) {
    if (ctx.response().ended() || ctx.response().headWritten()) return;
    ctx.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .end(
            new JsonObject()
                .put(errorKey(status), new JsonObject().put("code", status).put("message", message))
                .encode());
  }

  static String nowTime(long ms) {
    return NOVA_TIME.format(Instant.ofEpochMilli(ms));
  }

  static boolean atLeast(RoutingContext ctx, int minor) {
    int[] v = ctx.get("microversion");
    return v != null && (v[0] > 2 || (v[0] == 2 && v[1] >= minor));
  }

  /** The request's microversion minor number (2.minor). */
  static int minor(RoutingContext ctx) {
    int[] v = ctx.get("microversion");
    return v == null ? 1 : v[0] > 2 ? Integer.MAX_VALUE : v[1];
  }

  /** A non-negative integer query parameter, Nova's 400 otherwise. */
  static int intParam(String raw, String name, int dflt) {
    if (raw == null) return dflt;
    try {
      int v = Integer.parseInt(raw.trim());
      if (v < 0) throw new NumberFormatException();
      return v;
    } catch (NumberFormatException e) {
      throw invalidQuery(name, raw, "does not match '^[0-9]*$'");
    }
  }

  /** 404 as Nova gives for a route its microversion does not have. */
  static void requireVersion(RoutingContext ctx, int minMinor) {
    if (!atLeast(ctx, minMinor)) throw new ApiException(404, "The resource could not be found.");
  }

  static void requireBelow(RoutingContext ctx, int minor) {
    if (atLeast(ctx, minor)) throw new ApiException(404, "The resource could not be found.");
  }

  static Auth.Identity identity(RoutingContext ctx) {
    return ctx.get("identity");
  }

  /** Nova's default policy for admin-only rules; 403 in Nova's words otherwise. */
  static void requireAdmin(RoutingContext ctx, String rule) {
    Auth.Identity id = identity(ctx);
    if (id == null || !id.isAdmin()) {
      throw new ApiException(403, "Policy doesn't allow " + rule + " to be performed.");
    }
  }

  static boolean isAdmin(RoutingContext ctx) {
    Auth.Identity id = identity(ctx);
    return id != null && id.isAdmin();
  }

  static String uuidParam(RoutingContext ctx, String name, String what) {
    String id = ctx.pathParam(name);
    if (id == null || !UUID_RE.matcher(id).matches()) {
      throw new ApiException(404, what + " " + id + " could not be found.");
    }
    return id.toLowerCase();
  }

  static long migrationIdParam(RoutingContext ctx, String name) {
    String raw = ctx.pathParam(name);
    try {
      long v = Long.parseLong(raw);
      if (v < 0) throw new NumberFormatException();
      return v;
    } catch (NumberFormatException e) {
      throw new ApiException(400, "Invalid migration id " + raw + ".");
    }
  }

  /** The request body as one JSON object, or 400 {@code Malformed request body}. */
  static JsonObject jsonBody(RoutingContext ctx) {
    String text = ctx.body() == null ? null : ctx.body().asString();
    if (text == null || text.isBlank()) throw new ApiException(400, "Malformed request body");
    try {
      Object o = io.vertx.core.json.Json.decodeValue(text);
      if (!(o instanceof JsonObject j)) throw new ApiException(400, "Malformed request body");
      return j;
    } catch (DecodeException | ClassCastException e) {
      throw new ApiException(400, "Malformed request body");
    } catch (RuntimeException e) {
      // Jackson limits (nesting depth, number length) surface as other runtime exceptions.
      if (e instanceof ApiException a) throw a;
      throw new ApiException(400, "Malformed request body");
    }
  }

  /** A caller's value, shortened for an error message. */
  static String clip(String s) {
    return s.length() > 64 ? s.substring(0, 64) + "..." : s;
  }

  /** Nova's 400 for a query parameter that fails its schema: {@code why} names the rule. */
  static ApiException invalidQuery(String name, String raw, String why) {
    return new ApiException(
        400,
        "Invalid input for query parameters "
            + name
            + ". Value: "
            + clip(raw)
            + ". '"
            + clip(raw)
            + "' "
            + why);
  }

  static ApiException invalid(String field, Object value, String why) {
    return new ApiException(
        400, "Invalid input for field/attribute " + field + ". Value: " + value + ". " + why);
  }

  /** Rejects any key of {@code o} outside {@code allowed}, as Nova's additionalProperties. */
  static void onlyKeys(JsonObject o, String field, java.util.Collection<String> allowed) {
    for (String k : o.fieldNames()) {
      if (!allowed.contains(k)) {
        throw invalid(
            field,
            o.encode(),
            "Additional properties are not allowed ('" + k + "' was unexpected)");
      }
    }
  }

  static JsonArray links(RoutingContext ctx, String path) {
    String base = "http://" + ctx.request().authority();
    return new JsonArray()
        .add(new JsonObject().put("rel", "self").put("href", base + "/v2.1/" + path))
        .add(new JsonObject().put("rel", "bookmark").put("href", base + "/" + path));
  }

  /** Nova's truthy spellings of boolean query parameters ({@code True}, {@code 1}, ...). */
  static boolean truthy(String v) {
    if (v == null) return false;
    String s = v.trim().toLowerCase();
    return s.isEmpty() || s.equals("1") || s.equals("true") || s.equals("yes") || s.equals("on");
  }

  /** The wire name of a service binary: agents report ours, the clients expect Nova's. */
  static String novaBinary(String binary) {
    return "livemigrate-compute".equals(binary) ? "nova-compute" : binary;
  }

  static String ourBinary(String binary) {
    return "nova-compute".equals(binary) ? "livemigrate-compute" : binary;
  }
}
