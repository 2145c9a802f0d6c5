package io.livemigrate.conductor;

/**
 * What the instances on a host use (one SQL aggregate, not sums by hand).
 *
 * @param projectId null when summed over every project
 */
public record Usage(
    String host, String projectId, long instances, long vcpus, long memoryMb, long diskGb) {
  public static Usage none(String host) {
    return new Usage(host, null, 0, 0, 0, 0);
  }
}
