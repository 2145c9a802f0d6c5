package io.livemigrate.agent.impl;

import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.Config;
import io.livemigrate.common.config.DefaultOptions;
import io.livemigrate.common.config.LibvirtOptions;

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
        c.string(DefaultOptions.AVAILABILITY_ZONE),
        c.longValue(DefaultOptions.REPORT_INTERVAL) * 1000,
        c.longValue(ComputeOptions.PROGRESS_INTERVAL_MS),
        c.bool(LibvirtOptions.PERMIT_POST_COPY),
        c.bool(LibvirtOptions.PERMIT_AUTO_CONVERGE),
        c.decimal(DefaultOptions.CPU_ALLOCATION_RATIO),
        c.decimal(DefaultOptions.RAM_ALLOCATION_RATIO),
        c.decimal(DefaultOptions.DISK_ALLOCATION_RATIO),
        c.integer(DefaultOptions.MAX_CONCURRENT_LIVE_MIGRATIONS),
        c.integer(DefaultOptions.MAX_CONCURRENT_INBOUND_LIVE_MIGRATIONS),
        c.string(ComputeOptions.STATE_DIR),
        PeerHosts.from(c));
  }
}
