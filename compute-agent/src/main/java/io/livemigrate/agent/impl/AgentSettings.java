package io.livemigrate.agent.impl;

import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.Options;

/**
 * The compute agent's configuration, read once at start.
 *
 * @param stateDir where running migrations are journalled (empty: nowhere, no re-attach)
 * @param peers the hosts this agent may migrate to or from ({@code [compute] peers})
 */
public record AgentSettings(
    String host,
    String zone,
    long reportIntervalMs,
    long progressIntervalMs,
    boolean permitPostCopy,
    boolean permitAutoConverge,
    double cpuAllocationRatio,
    double ramAllocationRatio,
    double diskAllocationRatio,
    int maxOutboundMigrations,
    int maxInboundMigrations,
    String stateDir,
    PeerHosts peers) {

  public static AgentSettings from(Config c) {
    return new AgentSettings(
        c.host(),
        c.string(Options.AVAILABILITY_ZONE),
        c.longValue(Options.REPORT_INTERVAL) * 1000,
        c.longValue(Options.PROGRESS_INTERVAL_MS),
        c.bool(Options.PERMIT_POST_COPY),
        c.bool(Options.PERMIT_AUTO_CONVERGE),
        c.decimal(Options.CPU_ALLOCATION_RATIO),
        c.decimal(Options.RAM_ALLOCATION_RATIO),
        c.decimal(Options.DISK_ALLOCATION_RATIO),
        c.integer(Options.MAX_CONCURRENT_LIVE_MIGRATIONS),
        c.integer(Options.MAX_CONCURRENT_INBOUND_LIVE_MIGRATIONS),
        c.string(Options.STATE_DIR),
        PeerHosts.from(c));
  }
}
