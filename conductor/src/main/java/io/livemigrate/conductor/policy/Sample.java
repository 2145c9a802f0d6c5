package io.livemigrate.conductor.policy;

/**
 * One progress report of a running migration, as the policy sees it.
 *
 * @param elapsedMs since the transfer started
 * @param mode {@code precopy}, {@code postcopy} or {@code paused}
 */
public record Sample(
    long elapsedMs,
    long remainingBytes,
    long processedBytes,
    long totalBytes,
    long dirtyRateBps,
    long bandwidthBps,
    int iteration,
    String mode) {}
