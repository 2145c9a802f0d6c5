package io.livemigrate.agent.libvirt;

/** libvirt's version numbers: major * 1,000,000 + minor * 1,000 + micro. */
final class Versions {
  private Versions() {}

  static String format(long v) {
    return (v / 1_000_000) + "." + (v / 1000 % 1000) + "." + (v % 1000);
  }
}
