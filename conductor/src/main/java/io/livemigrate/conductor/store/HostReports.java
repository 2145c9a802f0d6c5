package io.livemigrate.conductor.store;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What each hypervisor last said it runs ({@code host_domains}, replaced by every report) and when
 * it said it ({@code host_reports}): what reconciliation compares with the record.
 */
public final class HostReports {
  private final Tx tx;

  HostReports(Tx tx) {
    this.tx = tx;
  }

  /** One domain a hypervisor reported, and whether an outbound job runs for it there. */
  /**
   * One domain a host reported.
   *
   * @param reportedMs when the host took the report (its clock), as stored in every row
   */
  public record Domain(
      String host, String instanceUuid, String state, boolean job, long reportedMs) {}

  /**
   * Replaces what a host runs with its latest report.
   *
   * @param jobsReported whether the report said which jobs run (a v2 report does not)
   */
  public void replaceDomains(
      String host, List<Domain> domains, long sentMs, long nowMs, boolean jobsReported) {
    tx.handle().createUpdate("DELETE FROM host_domains WHERE host = :h").bind("h", host).execute();
    var batch =
        tx.handle()
            .prepareBatch(
                "INSERT INTO host_domains (host, instance_uuid, state, job, reported_ms) VALUES"
                    + " (:h, :i, :s, :j, :t)");
    Map<String, Domain> unique = new LinkedHashMap<>();
    for (Domain d : domains) unique.put(d.instanceUuid(), d);
    for (Domain d : unique.values()) {
      batch.bind("h", host).bind("i", d.instanceUuid()).bind("s", d.state()).bind("j", d.job());
      batch.bind("t", sentMs).add();
    }
    if (!unique.isEmpty()) batch.execute();
    int n =
        tx.handle()
            .createUpdate(
                "UPDATE host_reports SET sent_ms = :s, received_ms = :r, jobs_reported = :j WHERE"
                    + " host = :h")
            .bind("s", sentMs)
            .bind("r", nowMs)
            .bind("j", jobsReported)
            .bind("h", host)
            .execute();
    if (n == 0) {
      tx.handle()
          .createUpdate(
              "INSERT INTO host_reports (host, sent_ms, received_ms, jobs_reported) VALUES (:h,"
                  + " :s, :r, :j)")
          .bind("s", sentMs)
          .bind("r", nowMs)
          .bind("j", jobsReported)
          .bind("h", host)
          .execute();
    }
  }

  /** Every host's report of an instance (it should be one). */
  public List<Domain> domainsOf(String instanceUuid) {
    return tx.handle()
        .createQuery("SELECT * FROM host_domains WHERE instance_uuid = :i ORDER BY host")
        .bind("i", instanceUuid)
        .map(
            (rs, ctx) ->
                new Domain(
                    rs.getString("host"),
                    rs.getString("instance_uuid"),
                    rs.getString("state"),
                    rs.getBoolean("job"),
                    rs.getLong("reported_ms")))
        .list();
  }

  /**
   * Marks (or clears, with 0) since when two hosts have both reported the instance running.
   *
   * @return the mark as it was before
   */
  public long markDuplicate(String instanceUuid, long sinceMs) {
    long before = duplicateSince(instanceUuid);
    if ((before == 0) != (sinceMs == 0)) {
      tx.handle()
          .createUpdate("UPDATE instances SET duplicate_since_ms = :s WHERE uuid = :u")
          .bind("s", sinceMs)
          .bind("u", instanceUuid)
          .execute();
      tx.durable();
    }
    return before;
  }

  /** Since when two hosts have reported the instance running; 0 when they do not. */
  public long duplicateSince(String instanceUuid) {
    return tx.handle()
        .createQuery("SELECT duplicate_since_ms FROM instances WHERE uuid = :u")
        .bind("u", instanceUuid)
        .mapTo(Long.class)
        .findOne()
        .orElse(0L);
  }

  /** Instances two hosts report running (for the duplicate-domain gauge and alert). */
  public long duplicates() {
    return tx.handle()
        .createQuery("SELECT COUNT(*) FROM instances WHERE duplicate_since_ms > 0")
        .mapTo(Long.class)
        .one();
  }

  /**
   * A host's last report.
   *
   * @param sentMs when the host sent it (its clock)
   * @param receivedMs when a conductor stored it (that conductor's clock)
   * @param jobsReported whether it said which outbound jobs run
   */
  public record Report(String host, long sentMs, long receivedMs, boolean jobsReported) {}

  public Optional<Report> lastReport(String host) {
    return tx.handle()
        .createQuery("SELECT * FROM host_reports WHERE host = :h")
        .bind("h", host)
        .map(
            (rs, ctx) ->
                new Report(
                    rs.getString("host"),
                    rs.getLong("sent_ms"),
                    rs.getLong("received_ms"),
                    rs.getBoolean("jobs_reported")))
        .findOne();
  }
}
