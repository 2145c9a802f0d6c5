package io.livemigrate.conductor;

/**
 * The step of the saga whose answer a migration waits for. Stored by its wire name; a final
 * migration has none.
 */
public enum Step {
  /** The scheduler is choosing a destination (select_destinations sent). */
  SELECT("select"),
  /** The source or the cluster is at its limit; the scheduler is asked again at the deadline. */
  QUEUE("queue"),
  /** The destination checks and prepares (prepare_destination sent). */
  PREPARE("prepare"),
  /** The source was told to start; its first progress (or outcome) is awaited. */
  START("start"),
  /** The transfer runs; progress arrives, the completion deadline watches it. */
  MONITOR("monitor"),
  /** An abort was asked of the source; its answer or the transfer's end is awaited. */
  ABORT("abort"),
  /** The destination takes the instance over (post_at_destination sent). */
  POST("post");

  private final String wire;

  Step(String wire) {
    this.wire = wire;
  }

  public String wire() {
    return wire;
  }

  /**
   * @throws IllegalArgumentException for a name that is no step
   */
  public static Step fromWire(String s) {
    for (Step st : values()) {
      if (st.wire.equals(s)) return st;
    }
    throw new IllegalArgumentException("unknown step " + s);
  }
}
