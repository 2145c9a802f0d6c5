package io.livemigrate.conductor.api;

import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The {@code name} filter of {@code GET /servers}: a regular expression, as in Nova, that must not
 * stall the event loop. A pattern that backtracks catastrophically ({@code (a+)+$} against a long
 * name) would run for minutes; here every match of one request shares a time budget, checked as the
 * regex engine reads characters, and a request that exhausts it gets a 400 instead.
 *
 * <p>Use: {@code NamePattern p = NamePattern.of(q.get("name"))} (null when absent), then {@code
 * p.find(instanceName)} per instance; {@code find} throws the 400 {@link ApiException}.
 */
public final class NamePattern {
  /** Time all matches of one request may take together. */
  static final long BUDGET_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  /** Longer patterns are refused outright (a name is at most 255 characters). */
  static final int MAX_LENGTH = 1024;

  private final String raw;
  private final Pattern pattern;
  private final long budgetNanos;
  private long deadline;

  private NamePattern(String raw, Pattern pattern, long budgetNanos) {
    this.raw = raw;
    this.pattern = pattern;
    this.budgetNanos = budgetNanos;
  }

  /** The filter for {@code raw}, or null when there is none; a 400 when it is too long. */
  public static NamePattern of(String raw) {
    return of(raw, BUDGET_NANOS);
  }

  static NamePattern of(String raw, long budgetNanos) {
    if (raw == null) return null;
    if (raw.length() > MAX_LENGTH) {
      throw ApiSupport.invalidQuery("name", raw, "is longer than " + MAX_LENGTH + " characters");
    }
    Pattern p;
    try {
      // Nova matches name as a regular expression.
      p = Pattern.compile(raw);
    } catch (PatternSyntaxException e) {
      p = Pattern.compile(Pattern.quote(raw));
    }
    return new NamePattern(raw, p, budgetNanos);
  }

  /**
   * Whether the pattern occurs in {@code name}. The budget starts with the first call.
   *
   * @throws ApiException 400 when this request's matches have used up their time
   */
  public boolean find(String name) {
    if (deadline == 0) deadline = System.nanoTime() + budgetNanos;
    try {
      return pattern.matcher(new Deadlined(name, 0, name.length(), deadline)).find();
    } catch (Expired | StackOverflowError e) {
      throw ApiSupport.invalidQuery(
          "name", raw, "takes too long to match (a pattern that backtracks catastrophically?)");
    }
  }

  private static final class Expired extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Expired() {
      super(null, null, false, false);
    }
  }

  /** A string that throws {@link Expired} once the deadline has passed while being read. */
  private static final class Deadlined implements CharSequence {
    private final String s;
    private final int from;
    private final int to;
    private final long deadline;
    private int reads;

    Deadlined(String s, int from, int to, long deadline) {
      this.s = s;
      this.from = from;
      this.to = to;
      this.deadline = deadline;
    }

    @Override
    public char charAt(int index) {
      // The clock every 64 reads: cheap, and still within microseconds of the deadline.
      if ((++reads & 0x3f) == 0 && System.nanoTime() > deadline) throw new Expired();
      return s.charAt(from + index);
    }

    @Override
    public int length() {
      return to - from;
    }

    @Override
    public CharSequence subSequence(int start, int end) {
      return new Deadlined(s, from + start, from + end, deadline);
    }

    @Override
    public String toString() {
      return s.substring(from, to);
    }
  }
}
