package io.livemigrate.conductor.impl;

import io.livemigrate.common.config.ConductorOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.LibvirtOptions;

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
        c.longValue(LibvirtOptions.COMPLETION_TIMEOUT),
        c.string(LibvirtOptions.TIMEOUT_ACTION),
        c.longValue(LibvirtOptions.BANDWIDTH),
        c.integer(LibvirtOptions.DOWNTIME),
        c.integer(LibvirtOptions.DOWNTIME_STEPS),
        c.integer(LibvirtOptions.DOWNTIME_DELAY),
        c.longValue(DefaultOptions.SERVICE_DOWN_TIME) * 1000,
        c.longValue(DefaultOptions.REPORT_INTERVAL) * 1000,
        c.integer(DefaultOptions.MIGRATE_MAX_RETRIES),
        c.longValue(ConductorOptions.PREPARE_TIMEOUT) * 1000,
        c.longValue(ConductorOptions.START_TIMEOUT) * 1000,
        c.longValue(ConductorOptions.POST_TIMEOUT) * 1000,
        c.longValue(ConductorOptions.ROLLBACK_TIMEOUT) * 1000,
        c.longValue(ConductorOptions.QUEUE_RETRY_MS),
        c.string(ConductorOptions.POLICY_PROFILE),
        c.longValue(ConductorOptions.STALL_WINDOW),
        c.longValue(ConductorOptions.ESCALATION_GRACE),
        c.bool(ConductorOptions.PERMIT_PAUSE));
  }
}
