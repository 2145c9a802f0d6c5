package io.livemigrate.common.config;

import java.util.List;

/**
 * One configuration key, named and defaulted as Nova names it where Nova has it.
 *
 * @param section INI section ({@code DEFAULT}, {@code libvirt}, ...)
 * @param name key inside the section
 * @param kind the value's type
 * @param defaultValue the default, as text
 * @param min lower bound for numbers (inclusive), or null
 * @param max upper bound for numbers (inclusive), or null
 * @param choices allowed values for {@link Kind#CHOICE}
 * @param help one line for operators
 */
public record Option(
    String section,
    String name,
    Kind kind,
    String defaultValue,
    Long min,
    Long max,
    List<String> choices,
    String help) {

  /** Value types a key can have. */
  public enum Kind {
    STRING,
    INT,
    FLOAT,
    BOOL,
    CHOICE
  }

  public String key() {
    return section + "." + name;
  }

  /** The environment variable that overrides this key: {@code LIVEMIGRATE_<SECTION>__<NAME>}. */
  public String envName() {
    return "LIVEMIGRATE_" + section.toUpperCase() + "__" + name.toUpperCase();
  }

  static Option str(String section, String name, String def, String help) {
    return new Option(section, name, Kind.STRING, def, null, null, List.of(), help);
  }

  static Option integer(String section, String name, long def, long min, long max, String help) {
    return new Option(section, name, Kind.INT, Long.toString(def), min, max, List.of(), help);
  }

  static Option decimal(String section, String name, double def, String help) {
    return new Option(section, name, Kind.FLOAT, Double.toString(def), 0L, null, List.of(), help);
  }

  static Option bool(String section, String name, boolean def, String help) {
    return new Option(section, name, Kind.BOOL, Boolean.toString(def), null, null, List.of(), help);
  }

  static Option choice(String section, String name, String def, List<String> choices, String help) {
    return new Option(section, name, Kind.CHOICE, def, null, null, choices, help);
  }

  /** Checks a textual value against this option; returns an error message or null. */
  String validate(String value) {
    switch (kind) {
      case INT -> {
        long v;
        try {
          v = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
          return key() + ": '" + value + "' is not an integer";
        }
        if (min != null && v < min) return key() + ": " + v + " is below the minimum " + min;
        if (max != null && v > max) return key() + ": " + v + " is above the maximum " + max;
        return null;
      }
      case FLOAT -> {
        double v;
        try {
          v = Double.parseDouble(value.trim());
        } catch (NumberFormatException e) {
          return key() + ": '" + value + "' is not a number";
        }
        if (Double.isNaN(v) || v < 0) return key() + ": " + v + " must be >= 0";
        return null;
      }
      case BOOL -> {
        String s = value.trim().toLowerCase();
        return s.equals("true") || s.equals("false")
            ? null
            : key() + ": '" + value + "' is not true or false";
      }
      case CHOICE -> {
        return choices.contains(value.trim())
            ? null
            : key() + ": '" + value + "' is not one of " + choices;
      }
      default -> {
        return null;
      }
    }
  }
}
