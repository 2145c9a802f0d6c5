package io.livemigrate.conductor;

/** A service (compute agent, scheduler, conductor) and its liveness. */
public record ServiceRow(
    long id,
    String uuid,
    String host,
    String binary,
    String zone,
    boolean disabled,
    String disabledReason,
    boolean forcedDown,
    long lastSeenMs,
    long createdMs) {}
