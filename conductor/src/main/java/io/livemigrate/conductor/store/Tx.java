package io.livemigrate.conductor.store;

import org.jdbi.v3.core.Handle;

/**
 * One store transaction and the tables it reaches. Obtained from {@link Store#tx} or {@link
 * Store#read}; valid only inside that call.
 */
public final class Tx {
  private final Handle h;
  private final boolean h2;
  private boolean durableWrite;
  private MigrationTable migrations;
  private InventoryTables inventory;
  private HostReports reports;
  private OutboxTable outbox;
  private DrainTables drains;

  Tx(Handle h, boolean h2) {
    this.h = h;
    this.h2 = h2;
  }

  Handle handle() {
    return h;
  }

  boolean h2() {
    return h2;
  }

  /** Records that this transaction wrote something a restarted conductor must find. */
  void durable() {
    durableWrite = true;
  }

  boolean wroteDurably() {
    return durableWrite;
  }

  public MigrationTable migrations() {
    if (migrations == null) migrations = new MigrationTable(this);
    return migrations;
  }

  public InventoryTables inventory() {
    if (inventory == null) inventory = new InventoryTables(this);
    return inventory;
  }

  public HostReports reports() {
    if (reports == null) reports = new HostReports(this);
    return reports;
  }

  public OutboxTable outbox() {
    if (outbox == null) outbox = new OutboxTable(this);
    return outbox;
  }

  public DrainTables drains() {
    if (drains == null) drains = new DrainTables(this);
    return drains;
  }

  /**
   * Records a handled message id (in this transaction, so a redelivery after a crash finds it).
   *
   * @return false when the id was handled before: the caller must do nothing
   */
  public boolean firstDelivery(String messageId, long expiresMs) {
    boolean seen =
        h.createQuery("SELECT COUNT(*) FROM handled_messages WHERE id = :id")
                .bind("id", messageId)
                .mapTo(Long.class)
                .one()
            > 0;
    if (seen) return false;
    h.createUpdate("INSERT INTO handled_messages (id, expires_ms) VALUES (:id, :e)")
        .bind("id", messageId)
        .bind("e", expiresMs)
        .execute();
    durable();
    return true;
  }

  /** Forgets handled ids whose redelivery window is over; returns how many. */
  public int expireHandled(long nowMs) {
    return h.createUpdate("DELETE FROM handled_messages WHERE expires_ms < :now")
        .bind("now", nowMs)
        .execute();
  }

  /** {@code FOR UPDATE SKIP LOCKED}: take the row unless another conductor holds it. */
  static String skipLocked() {
    return " FOR UPDATE SKIP LOCKED";
  }
}
