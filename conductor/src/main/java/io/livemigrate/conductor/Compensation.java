package io.livemigrate.conductor;

/**
 * What a step leaves behind that must be undone when the migration ends with the instance on the
 * source. A step registers its compensation in the row before its command goes out, so a conductor
 * that takes over finds it; they run latest first.
 */
public enum Compensation {
  /** The scheduler holds a claim on the destination: release it (also after success). */
  RELEASE_CLAIM,
  /** The destination reserved (prepared) for the instance: roll it back there. */
  ROLLBACK_DESTINATION
}
