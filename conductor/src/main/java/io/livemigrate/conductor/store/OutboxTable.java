package io.livemigrate.conductor.store;

import java.util.List;

/**
 * Messages written by the transaction that caused them and published after its commit. A row is
 * deleted once the broker confirmed it; a row whose claim ran out (its conductor died before the
 * confirm) is claimed and published again by any conductor, so delivery is at least once and
 * receivers dedupe by message id.
 */
public final class OutboxTable {
  /**
   * One message to publish.
   *
   * @param kind {@code envelope} (a contract message) or {@code json} (a notification)
   */
  public record Row(
      String id, String exchange, String routingKey, String kind, String body, long createdMs) {}

  private final Tx tx;

  OutboxTable(Tx tx) {
    this.tx = tx;
  }

  /** Adds a message, claimed by the writing conductor until {@code claimedUntilMs}. */
  public void add(Row r, long claimedUntilMs) {
    tx.handle()
        .createUpdate(
            "INSERT INTO outbox (id, exchange_name, routing_key, kind, body, created_ms,"
                + " claimed_until_ms) VALUES (:id, :x, :k, :kind, :b, :c, :u)")
        .bind("id", r.id())
        .bind("x", r.exchange())
        .bind("k", r.routingKey())
        .bind("kind", r.kind())
        .bind("b", r.body())
        .bind("c", r.createdMs())
        .bind("u", claimedUntilMs)
        .execute();
    tx.durable();
  }

  /**
   * Claims up to {@code limit} rows whose claim ran out, oldest first, until {@code untilMs}; rows
   * another conductor is claiming right now are skipped.
   */
  public List<Row> claimExpired(long nowMs, long untilMs, int limit) {
    List<Row> rows =
        tx.handle()
            .createQuery(
                "SELECT * FROM outbox WHERE claimed_until_ms < :now ORDER BY seq LIMIT :n"
                    + Tx.skipLocked())
            .bind("now", nowMs)
            .bind("n", limit)
            .map(
                (rs, ctx) ->
                    new Row(
                        rs.getString("id"),
                        rs.getString("exchange_name"),
                        rs.getString("routing_key"),
                        rs.getString("kind"),
                        rs.getString("body"),
                        rs.getLong("created_ms")))
            .list();
    if (!rows.isEmpty()) {
      tx.handle()
          .createUpdate("UPDATE outbox SET claimed_until_ms = :u WHERE id IN (<ids>)")
          .bind("u", untilMs)
          .bindList("ids", rows.stream().map(Row::id).toList())
          .execute();
    }
    return rows;
  }

  /** Removes confirmed messages. Not durable: a row that comes back is published again. */
  public int delete(List<String> ids) {
    if (ids.isEmpty()) return 0;
    return tx.handle()
        .createUpdate("DELETE FROM outbox WHERE id IN (<ids>)")
        .bindList("ids", ids)
        .execute();
  }

  /** Gives up this conductor's claim on rows it could not publish: the next sweep takes them. */
  public void release(List<String> ids) {
    if (ids.isEmpty()) return;
    tx.handle()
        .createUpdate("UPDATE outbox SET claimed_until_ms = 0 WHERE id IN (<ids>)")
        .bindList("ids", ids)
        .execute();
  }

  /** Rows waiting to be published (for /health and metrics). */
  public long pending() {
    return tx.handle().createQuery("SELECT COUNT(*) FROM outbox").mapTo(Long.class).one();
  }
}
