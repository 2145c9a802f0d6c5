package io.livemigrate.common.contract;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.vertx.core.json.JsonObject;
import java.util.Map;

/** The one JSON mapper for contract records. */
public final class Json {
  private static final ObjectMapper MAPPER = strict(new ObjectMapper());

  /** A wrong JSON type is a malformed message: no "1024" for a number, no 4.7 for an int. */
  private static ObjectMapper strict(ObjectMapper m) {
    m.coercionConfigDefaults()
        .setCoercion(
            com.fasterxml.jackson.databind.cfg.CoercionInputShape.String,
            com.fasterxml.jackson.databind.cfg.CoercionAction.Fail);
    m.coercionConfigFor(com.fasterxml.jackson.databind.type.LogicalType.Boolean)
        .setCoercion(
            com.fasterxml.jackson.databind.cfg.CoercionInputShape.Integer,
            com.fasterxml.jackson.databind.cfg.CoercionAction.Fail);
    return m;
  }

  static {
    MAPPER
        // Older readers must accept newer writers that add optional fields.
        .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
        .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, true)
        .configure(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES, false)
        .configure(DeserializationFeature.ACCEPT_FLOAT_AS_INT, false)
        .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);
  }

  private Json() {}

  public static JsonObject toJson(Object record) {
    @SuppressWarnings("unchecked")
    Map<String, Object> m = MAPPER.convertValue(record, Map.class);
    return new JsonObject(m);
  }

  public static <T> T fromJson(JsonObject json, Class<T> type) {
    try {
      // Through bytes, not getMap(): an in-memory JsonObject may hold JsonArray/JsonObject
      // values that Jackson would otherwise read as beans.
      return MAPPER.readValue(json.toBuffer().getBytes(), type);
    } catch (java.io.IOException | IllegalArgumentException e) {
      Throwable root = e;
      while (root.getCause() != null) root = root.getCause();
      if (root instanceof InvalidMessageException ime) throw ime;
      throw new InvalidMessageException(
          "payload does not match " + type.getSimpleName() + ": " + firstLine(root.getMessage()));
    }
  }

  private static String firstLine(String s) {
    if (s == null) return "invalid";
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
