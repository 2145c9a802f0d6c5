package io.livemigrate.conductor.impl;

import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.Options;

/** The conductor's configuration, read once at start. */
public record ConductorSettings(
    String host,
    long completionTimeoutPerGiB,
    String timeoutAction,
    long bandwidthMibps,
    int downtimeMs,
    int downtimeSteps,
    int downtimeDelay,
    long serviceDownTimeMs,
    long reportIntervalMs,
    int migrateMaxRetries,
    long prepareTimeoutMs,
    long startTimeoutMs,
    long postTimeoutMs,
    long rollbackTimeoutMs,
    long queueRetryMs,
    String policyProfile,
    long stallWindowS,
    long escalationGraceS,
    boolean permitPause) {

  public static ConductorSettings from(Config c) {
    return new ConductorSettings(
        c.host(),
        c.longValue(Options.COMPLETION_TIMEOUT),
        c.string(Options.TIMEOUT_ACTION),
        c.longValue(Options.BANDWIDTH),
        c.integer(Options.DOWNTIME),
        c.integer(Options.DOWNTIME_STEPS),
        c.integer(Options.DOWNTIME_DELAY),
        c.longValue(Options.SERVICE_DOWN_TIME) * 1000,
        c.longValue(Options.REPORT_INTERVAL) * 1000,
        c.integer(Options.MIGRATE_MAX_RETRIES),
        c.longValue(Options.PREPARE_TIMEOUT) * 1000,
        c.longValue(Options.START_TIMEOUT) * 1000,
        c.longValue(Options.POST_TIMEOUT) * 1000,
        c.longValue(Options.ROLLBACK_TIMEOUT) * 1000,
        c.longValue(Options.QUEUE_RETRY_MS),
        c.string(Options.POLICY_PROFILE),
        c.longValue(Options.STALL_WINDOW),
        c.longValue(Options.ESCALATION_GRACE),
        c.bool(Options.PERMIT_PAUSE));
  }
}
