package io.livemigrate.cli;

import io.livemigrate.cli.ApiClient.ApiError;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import picocli.CommandLine.Option;

/**
 * The output of every client command, as openstackclient formats it: {@code -f table} (the default,
 * with human units), {@code json}, {@code value} or {@code csv} (machine values: bytes, ms, ids),
 * {@code -c COLUMN} to pick columns, and {@code --long} for the wide listing.
 */
final class Output {
  private Output() {}

  /** The formats {@code -f} takes. */
  enum Format {
    table,
    json,
    value,
    csv
  }

  /** {@code -f} and {@code -c}, mixed into every client command. */
  static final class Options {
    @Option(
        names = {"-f", "--format"},
        paramLabel = "FORMAT",
        defaultValue = "table",
        description = "Output format: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE})")
    Format format = Format.table;

    @Option(
        names = {"-c", "--column"},
        paramLabel = "COLUMN",
        description = "Show only this column (repeat for more); names as in the table header")
    List<String> columns = new ArrayList<>();
  }

  /**
   * One column: its header, the machine value (for json/value/csv), how a person reads it (for the
   * table) and whether only {@code --long} shows it.
   */
  record Column(
      String header,
      Function<JsonObject, Object> value,
      Function<Object, String> human,
      boolean wide) {
    static Column of(String header, Function<JsonObject, Object> value) {
      return new Column(header, value, Output::text, false);
    }

    static Column human(
        String header, Function<JsonObject, Object> value, Function<Object, String> human) {
      return new Column(header, value, human, false);
    }

    Column wideOnly() {
      return new Column(header, value, human, true);
    }
  }

  /** Prints {@code items} as rows of {@code columns}. */
  static void list(
      PrintStream out, Options o, boolean wide, List<Column> columns, List<JsonObject> items) {
    List<Column> cols = select(o, wide, columns);
    List<List<Object>> rows = new ArrayList<>();
    for (JsonObject item : items) {
      List<Object> r = new ArrayList<>();
      for (Column c : cols) r.add(c.value().apply(item));
      rows.add(r);
    }
    switch (o.format) {
      case json -> {
        JsonArray a = new JsonArray();
        for (List<Object> r : rows) {
          JsonObject j = new JsonObject();
          for (int i = 0; i < cols.size(); i++) j.put(cols.get(i).header(), r.get(i));
          a.add(j);
        }
        out.println(a.encodePrettily());
      }
      case value -> {
        for (List<Object> r : rows) {
          List<String> cells = new ArrayList<>();
          for (Object v : r) cells.add(text(v));
          out.println(String.join(" ", cells));
        }
      }
      case csv -> {
        out.println(csvLine(cols.stream().map(c -> (Object) c.header()).toList()));
        for (List<Object> r : rows) out.println(csvLine(r));
      }
      case table -> {
        List<List<String>> cells = new ArrayList<>();
        // Right-aligned: a column whose values are all numbers (or absent), with one at least.
        int[] numbers = new int[cols.size()];
        boolean[] other = new boolean[cols.size()];
        for (List<Object> r : rows) {
          List<String> line = new ArrayList<>();
          for (int i = 0; i < cols.size(); i++) {
            line.add(cols.get(i).human().apply(r.get(i)));
            if (r.get(i) instanceof Number) numbers[i]++;
            else if (r.get(i) != null) other[i] = true;
          }
          cells.add(line);
        }
        List<Boolean> numeric = new ArrayList<>();
        for (int i = 0; i < cols.size(); i++) numeric.add(numbers[i] > 0 && !other[i]);
        table(out, cols.stream().map(Column::header).toList(), cells, numeric);
      }
    }
  }

  /** Prints one object as Field / Value rows (table), an object (json) or its values (value). */
  static void object(PrintStream out, Options o, List<Column> fields, JsonObject item) {
    List<Column> cols = select(o, true, fields);
    switch (o.format) {
      case json -> {
        JsonObject j = new JsonObject();
        for (Column c : cols) j.put(c.header(), c.value().apply(item));
        out.println(j.encodePrettily());
      }
      case value -> {
        for (Column c : cols) out.println(text(c.value().apply(item)));
      }
      case csv -> {
        out.println(csvLine(cols.stream().map(c -> (Object) c.header()).toList()));
        List<Object> r = new ArrayList<>();
        for (Column c : cols) r.add(c.value().apply(item));
        out.println(csvLine(r));
      }
      case table -> {
        List<List<String>> cells = new ArrayList<>();
        for (Column c : cols)
          cells.add(List.of(c.header(), c.human().apply(c.value().apply(item))));
        table(out, List.of("Field", "Value"), cells, List.of(false, false));
      }
    }
  }

  /** Every field of {@code item} as a column, in key order (for a raw show). */
  static List<Column> allFields(JsonObject item) {
    List<Column> l = new ArrayList<>();
    for (String k : new java.util.TreeSet<>(item.fieldNames()))
      l.add(Column.of(k, j -> j.getValue(k)));
    return l;
  }

  private static List<Column> select(Options o, boolean wide, List<Column> columns) {
    if (o.columns.isEmpty()) {
      return columns.stream().filter(c -> wide || !c.wide()).toList();
    }
    Map<String, Column> byName = new LinkedHashMap<>();
    for (Column c : columns) byName.put(c.header().toLowerCase(Locale.ROOT), c);
    List<Column> l = new ArrayList<>();
    List<String> unknown = new ArrayList<>();
    for (String name : o.columns) {
      Column c = byName.get(name.toLowerCase(Locale.ROOT));
      if (c == null) unknown.add(name);
      else l.add(c);
    }
    if (!unknown.isEmpty()) {
      throw new ApiError(
          0,
          "No recognized column names in "
              + unknown
              + ". Recognized columns are "
              + columns.stream().map(Column::header).toList()
              + ".");
    }
    return l;
  }

  private static void table(
      PrintStream out, List<String> headers, List<List<String>> rows, List<Boolean> rightAlign) {
    int[] w = new int[headers.size()];
    for (int i = 0; i < w.length; i++) w[i] = headers.get(i).length();
    for (List<String> r : rows) {
      for (int i = 0; i < w.length; i++) w[i] = Math.max(w[i], r.get(i).length());
    }
    StringBuilder sep = new StringBuilder("+");
    for (int x : w) sep.append("-".repeat(x + 2)).append('+');
    out.println(sep);
    out.println(line(headers, w, null));
    out.println(sep);
    for (List<String> r : rows) out.println(line(r, w, rightAlign));
    out.println(sep);
  }

  private static String line(List<String> cells, int[] w, List<Boolean> right) {
    StringBuilder b = new StringBuilder("|");
    for (int i = 0; i < w.length; i++) {
      String c = cells.get(i);
      String pad = " ".repeat(w[i] - c.length());
      b.append(' ').append(right != null && right.get(i) ? pad + c : c + pad).append(" |");
    }
    return b.toString();
  }

  private static String csvLine(List<Object> values) {
    List<String> l = new ArrayList<>();
    for (Object v : values) l.add('"' + text(v).replace("\"", "\"\"") + '"');
    return String.join(",", l);
  }

  // ------------------------------------------------------------ how a person reads values

  /** A value as text: {@code None} for null, as openstackclient prints it. */
  static String text(Object v) {
    if (v == null) return "None";
    if (v instanceof JsonObject j) return j.encode();
    if (v instanceof JsonArray a) return a.encode();
    return String.valueOf(v);
  }

  /** Blank for null (a table cell that has nothing to say). */
  static String blank(Object v) {
    return v == null ? "" : text(v);
  }

  /** Bytes as B, KiB, MiB or GiB; blank for null. */
  static String bytes(Object v) {
    if (!(v instanceof Number n)) return blank(v);
    long b = n.longValue();
    if (b >= 1L << 30) return String.format(Locale.ROOT, "%.1f GiB", b / (double) (1L << 30));
    if (b >= 1L << 20) return String.format(Locale.ROOT, "%.1f MiB", b / (double) (1L << 20));
    if (b >= 1L << 10) return String.format(Locale.ROOT, "%.1f KiB", b / 1024.0);
    return b + " B";
  }

  /** MiB (as Nova counts memory_mb) as MiB or GiB. */
  static String mib(Object v) {
    if (!(v instanceof Number n)) return blank(v);
    return bytes(n.longValue() << 20);
  }

  /** Milliseconds as ms, s or min s; blank for null. */
  static String millis(Object v) {
    if (!(v instanceof Number n)) return blank(v);
    long ms = n.longValue();
    if (ms < 1000) return ms + " ms";
    if (ms < 60_000) return String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
    long s = ms / 1000;
    if (s < 3600) return (s / 60) + " min " + (s % 60) + " s";
    return (s / 3600) + " h " + (s % 3600 / 60) + " min";
  }

  /** Seconds (possibly fractional) as a duration. */
  static String seconds(Object v) {
    if (!(v instanceof Number n)) return blank(v);
    return millis(Math.round(n.doubleValue() * 1000));
  }

  /** Bytes per second. */
  static String rate(Object v) {
    if (!(v instanceof Number)) return blank(v);
    return bytes(v) + "/s";
  }

  /** A whole percentage. */
  static String percent(Object v) {
    if (!(v instanceof Number n)) return blank(v);
    return n.intValue() + "%";
  }
}
