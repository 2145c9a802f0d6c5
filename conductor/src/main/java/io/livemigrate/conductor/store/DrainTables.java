package io.livemigrate.conductor.store;

import io.livemigrate.conductor.Drain;
import io.livemigrate.conductor.DrainItem;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.mapper.RowMapper;

/** Host drains and their servers: rows, so a drain outlives the conductor that started it. */
public final class DrainTables {
  private static final RowMapper<Drain> DRAIN =
      (rs, ctx) ->
          new Drain(
              rs.getString("id"),
              rs.getString("host"),
              rs.getString("target_host"),
              rs.getBoolean("block_migration"),
              rs.getInt("max_retries"),
              rs.getString("request_id"),
              rs.getString("status"),
              rs.getLong("started_ms"),
              rs.getLong("finished_ms"));

  private static final RowMapper<DrainItem> ITEM =
      (rs, ctx) ->
          new DrainItem(
              rs.getString("drain_id"),
              rs.getString("instance_uuid"),
              rs.getString("name"),
              rs.getString("state"),
              rs.getInt("attempts"),
              rs.getString("migration_uuid"),
              rs.getLong("migration_id"),
              rs.getString("dest_compute"),
              rs.getString("reason"),
              rs.getString("message"),
              rs.getLong("started_ms"),
              rs.getLong("finished_ms"));

  private final Tx tx;

  DrainTables(Tx tx) {
    this.tx = tx;
  }

  public void insert(Drain d) {
    tx.handle()
        .createUpdate(
            "INSERT INTO drains (id, host, target_host, block_migration, max_retries, request_id,"
                + " status, started_ms, finished_ms) VALUES (:id, :host, :targetHost,"
                + " :blockMigration, :maxRetries, :requestId, :status, :startedMs, :finishedMs)")
        .bindMethods(d)
        .execute();
    tx.durable();
  }

  public void update(Drain d) {
    tx.handle()
        .createUpdate(
            "UPDATE drains SET status = :status, finished_ms = :finishedMs WHERE id = :id")
        .bindMethods(d)
        .execute();
    tx.durable();
  }

  public void upsertItem(DrainItem i) {
    int n =
        tx.handle()
            .createUpdate(
                "UPDATE drain_items SET state = :state, attempts = :attempts, migration_uuid ="
                    + " :migrationUuid, migration_id = :migrationId, dest_compute = :destCompute,"
                    + " reason = :reason, message = :message, started_ms = :startedMs,"
                    + " finished_ms = :finishedMs WHERE drain_id = :drainId AND instance_uuid ="
                    + " :instanceUuid")
            .bindMethods(i)
            .execute();
    if (n == 0) {
      tx.handle()
          .createUpdate(
              "INSERT INTO drain_items (drain_id, instance_uuid, name, state, attempts,"
                  + " migration_uuid, migration_id, dest_compute, reason, message, started_ms,"
                  + " finished_ms) VALUES (:drainId, :instanceUuid, :name, :state, :attempts,"
                  + " :migrationUuid, :migrationId, :destCompute, :reason, :message, :startedMs,"
                  + " :finishedMs)")
          .bindMethods(i)
          .execute();
    }
    tx.durable();
  }

  public Optional<Drain> drain(String id) {
    return tx.handle()
        .createQuery("SELECT * FROM drains WHERE id = :id")
        .bind("id", id)
        .map(DRAIN)
        .findOne();
  }

  /** The drain to update, its row locked. */
  public Optional<Drain> lock(String id) {
    return tx.handle()
        .createQuery("SELECT * FROM drains WHERE id = :id FOR UPDATE")
        .bind("id", id)
        .map(DRAIN)
        .findOne();
  }

  public List<Drain> drains() {
    return tx.handle().createQuery("SELECT * FROM drains ORDER BY started_ms").map(DRAIN).list();
  }

  public Optional<Drain> runningFor(String host) {
    return tx.handle()
        .createQuery("SELECT * FROM drains WHERE host = :h AND status = 'running'")
        .bind("h", host)
        .map(DRAIN)
        .findFirst();
  }

  public List<DrainItem> items(String drainId) {
    return tx.handle()
        .createQuery("SELECT * FROM drain_items WHERE drain_id = :d ORDER BY name, instance_uuid")
        .bind("d", drainId)
        .map(ITEM)
        .list();
  }

  /** The drain item a migration belongs to, if it was started by a drain. */
  public Optional<DrainItem> itemOf(String migrationUuid) {
    return tx.handle()
        .createQuery("SELECT * FROM drain_items WHERE migration_uuid = :m")
        .bind("m", migrationUuid)
        .map(ITEM)
        .findFirst();
  }
}
