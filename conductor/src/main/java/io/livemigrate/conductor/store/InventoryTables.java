package io.livemigrate.conductor.store;

import io.livemigrate.conductor.HostRow;
import io.livemigrate.conductor.InstanceRow;
import io.livemigrate.conductor.ServiceRow;
import io.livemigrate.conductor.Usage;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.jdbi.v3.core.mapper.RowMapper;

/**
 * What the compute hosts report: services (heartbeats and the operator's flags), hosts (capacity),
 * instances (the conductor's record of each server), and what each hypervisor last said it runs
 * ({@code host_domains}) for reconciliation. One row mapper per table.
 */
public final class InventoryTables {
  private static final RowMapper<ServiceRow> SERVICE =
      (rs, ctx) ->
          new ServiceRow(
              rs.getLong("id"),
              rs.getString("uuid"),
              rs.getString("host"),
              rs.getString("binary_name"),
              rs.getString("zone"),
              rs.getBoolean("disabled"),
              rs.getString("disabled_reason"),
              rs.getBoolean("forced_down"),
              rs.getLong("last_seen_ms"),
              rs.getLong("created_ms"));

  private static final RowMapper<HostRow> HOST =
      (rs, ctx) ->
          new HostRow(
              rs.getString("host"),
              rs.getString("hypervisor_type"),
              rs.getLong("hypervisor_version"),
              rs.getInt("vcpus"),
              rs.getLong("memory_mb"),
              rs.getLong("disk_gb"),
              rs.getBoolean("permit_post_copy"),
              rs.getBoolean("permit_auto_converge"),
              rs.getLong("updated_ms"),
              lines(rs.getString("shared_storage_with")),
              new HostRow.Limits(
                  rs.getDouble("cpu_allocation_ratio"),
                  rs.getDouble("ram_allocation_ratio"),
                  rs.getDouble("disk_allocation_ratio"),
                  rs.getInt("max_inbound"),
                  rs.getInt("max_outbound")));

  private static final RowMapper<InstanceRow> INSTANCE = (rs, ctx) -> instance(rs);

  private final Tx tx;

  InventoryTables(Tx tx) {
    this.tx = tx;
  }

  private static List<String> lines(String s) {
    return s == null || s.isEmpty() ? List.of() : Arrays.asList(s.split("\n"));
  }

  private static InstanceRow instance(ResultSet rs) throws SQLException {
    Long data = nullableLong(rs, "memory_data_bytes");
    Long dirty = nullableLong(rs, "dirty_rate_bps");
    return new InstanceRow(
        rs.getString("uuid"),
        rs.getString("name"),
        rs.getString("host"),
        rs.getString("status"),
        rs.getString("task_state"),
        rs.getInt("vcpus"),
        rs.getLong("memory_mb"),
        rs.getLong("disk_gb"),
        rs.getString("project_id"),
        rs.getString("user_id"),
        rs.getString("flavor"),
        rs.getLong("created_ms"),
        rs.getLong("updated_ms"),
        rs.getString("cpu_xml"),
        rs.getString("machine_type"),
        dirty,
        data);
  }

  private static Long nullableLong(ResultSet rs, String column) throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? null : v;
  }

  // ---------------------------------------------------------------- services

  /**
   * Records a heartbeat; creates the service on its first one. Not durable: the next replaces it.
   */
  public void heartbeat(String host, String binary, String zone, long nowMs) {
    int n =
        tx.handle()
            .createUpdate(
                "UPDATE services SET last_seen_ms = :t, zone = :z WHERE host = :h AND binary_name"
                    + " = :b")
            .bind("t", nowMs)
            .bind("z", zone)
            .bind("h", host)
            .bind("b", binary)
            .execute();
    if (n == 0) {
      tx.handle()
          .createUpdate(
              "INSERT INTO services (uuid, host, binary_name, zone, last_seen_ms, created_ms)"
                  + " VALUES (:u, :h, :b, :z, :t, :t)")
          .bind("u", UUID.randomUUID().toString())
          .bind("h", host)
          .bind("b", binary)
          .bind("z", zone)
          .bind("t", nowMs)
          .execute();
      tx.durable();
    }
  }

  public Optional<ServiceRow> service(String host, String binary) {
    return tx.handle()
        .createQuery("SELECT * FROM services WHERE host = :h AND binary_name = :b")
        .bind("h", host)
        .bind("b", binary)
        .map(SERVICE)
        .findOne();
  }

  public List<ServiceRow> services() {
    return tx.handle().createQuery("SELECT * FROM services ORDER BY id").map(SERVICE).list();
  }

  /** Sets the operator's flags on a service. */
  public void setServiceStatus(
      String host, String binary, boolean disabled, String reason, boolean forcedDown) {
    tx.handle()
        .createUpdate(
            "UPDATE services SET disabled = :d, disabled_reason = :r, forced_down = :f WHERE host"
                + " = :h AND binary_name = :b")
        .bind("d", disabled)
        .bindByType("r", reason, String.class)
        .bind("f", forcedDown)
        .bind("h", host)
        .bind("b", binary)
        .execute();
    tx.durable();
  }

  // ---------------------------------------------------------------- hosts

  public void upsertHost(HostRow h) {
    String sql =
        " hypervisor_type = :ht, hypervisor_version = :hv, vcpus = :c, memory_mb = :m, disk_gb ="
            + " :d, permit_post_copy = :pc, permit_auto_converge = :ac, updated_ms = :t,"
            + " shared_storage_with = :ss, cpu_allocation_ratio = :cr, ram_allocation_ratio = :rr,"
            + " disk_allocation_ratio = :dr, max_inbound = :mi, max_outbound = :mo";
    int n = hostParams(tx.handle().createUpdate("UPDATE hosts SET" + sql + " WHERE host = :h"), h);
    if (n == 0) {
      hostParams(
          tx.handle()
              .createUpdate(
                  "INSERT INTO hosts (host, hypervisor_type, hypervisor_version, vcpus, memory_mb,"
                      + " disk_gb, permit_post_copy, permit_auto_converge, updated_ms,"
                      + " shared_storage_with, cpu_allocation_ratio, ram_allocation_ratio,"
                      + " disk_allocation_ratio, max_inbound, max_outbound) VALUES (:h, :ht, :hv, :c,"
                      + " :m, :d, :pc, :ac, :t, :ss, :cr, :rr, :dr, :mi, :mo)"),
          h);
    }
  }

  private static int hostParams(org.jdbi.v3.core.statement.Update u, HostRow h) {
    return u.bind("h", h.host())
        .bind("ht", h.hypervisorType())
        .bind("hv", h.hypervisorVersion())
        .bind("c", h.vcpus())
        .bind("m", h.memoryMb())
        .bind("d", h.diskGb())
        .bind("pc", h.permitPostCopy())
        .bind("ac", h.permitAutoConverge())
        .bind("t", h.updatedMs())
        .bind("ss", String.join("\n", h.sharedStorageWith()))
        .bind("cr", h.limits().cpuRatio())
        .bind("rr", h.limits().ramRatio())
        .bind("dr", h.limits().diskRatio())
        .bind("mi", h.limits().maxInbound())
        .bind("mo", h.limits().maxOutbound())
        .execute();
  }

  public Optional<HostRow> host(String host) {
    return tx.handle()
        .createQuery("SELECT * FROM hosts WHERE host = :h")
        .bind("h", host)
        .map(HOST)
        .findOne();
  }

  /** The host, its row locked: claims on one destination are checked one at a time. */
  public Optional<HostRow> lockHost(String host) {
    return tx.handle()
        .createQuery("SELECT * FROM hosts WHERE host = :h FOR UPDATE")
        .bind("h", host)
        .map(HOST)
        .findOne();
  }

  public List<HostRow> hosts() {
    return tx.handle().createQuery("SELECT * FROM hosts ORDER BY host").map(HOST).list();
  }

  // ---------------------------------------------------------------- instances

  public void upsertInstance(InstanceRow i) {
    String set =
        "name = :name, host = :host, status = :status, task_state = :ts, vcpus = :vcpus,"
            + " memory_mb = :mem, disk_gb = :disk, project_id = :p, user_id = :u, flavor = :f,"
            + " updated_ms = :upd, cpu_xml = :cpu, machine_type = :mt, dirty_rate_bps = :dr,"
            + " memory_data_bytes = :md";
    int n =
        instanceParams(
            tx.handle().createUpdate("UPDATE instances SET " + set + " WHERE uuid = :uuid"), i);
    if (n == 0) {
      instanceParams(
          tx.handle()
              .createUpdate(
                  "INSERT INTO instances (uuid, name, host, status, task_state, vcpus, memory_mb,"
                      + " disk_gb, project_id, user_id, flavor, created_ms, updated_ms, cpu_xml,"
                      + " machine_type, dirty_rate_bps, memory_data_bytes) VALUES (:uuid, :name,"
                      + " :host, :status, :ts, :vcpus, :mem, :disk, :p, :u, :f, :created, :upd,"
                      + " :cpu, :mt, :dr, :md)"),
          i);
    }
    tx.durable();
  }

  private static int instanceParams(org.jdbi.v3.core.statement.Update u, InstanceRow i) {
    return u.bind("uuid", i.uuid())
        .bindByType("name", i.name(), String.class)
        .bindByType("host", i.host(), String.class)
        .bind("status", i.status())
        .bindByType("ts", i.taskState(), String.class)
        .bind("vcpus", i.vcpus())
        .bind("mem", i.memoryMb())
        .bind("disk", i.diskGb())
        .bindByType("p", i.projectId(), String.class)
        .bindByType("u", i.userId(), String.class)
        .bindByType("f", i.flavor(), String.class)
        .bind("created", i.createdMs())
        .bind("upd", i.updatedMs())
        .bindByType("cpu", i.cpuXml(), String.class)
        .bindByType("mt", i.machineType(), String.class)
        .bindByType("dr", i.dirtyRateBps(), Long.class)
        .bindByType("md", i.memoryDataBytes(), Long.class)
        .execute();
  }

  public Optional<InstanceRow> instance(String uuid) {
    return tx.handle()
        .createQuery("SELECT * FROM instances WHERE uuid = :u")
        .bind("u", uuid)
        .map(INSTANCE)
        .findOne();
  }

  /** The instance, its row locked until the transaction ends. */
  public Optional<InstanceRow> lockInstance(String uuid) {
    return tx.handle()
        .createQuery("SELECT * FROM instances WHERE uuid = :u FOR UPDATE")
        .bind("u", uuid)
        .map(INSTANCE)
        .findOne();
  }

  /** Instances, optionally only those on one host (null = all), ordered by name. */
  public List<InstanceRow> instances(String host) {
    var q =
        tx.handle()
            .createQuery(
                host == null
                    ? "SELECT * FROM instances ORDER BY name, uuid"
                    : "SELECT * FROM instances WHERE host = :h ORDER BY name, uuid");
    if (host != null) q.bind("h", host);
    return q.map(INSTANCE).list();
  }

  /** What the instances on each host use, by host; with {@code perProject}, by host and project. */
  public List<Usage> usage(String host, boolean perProject) {
    String group = perProject ? "host, project_id" : "host";
    String sql =
        "SELECT "
            + group
            + ", COUNT(*) AS n, SUM(vcpus) AS c, SUM(memory_mb) AS m, SUM(disk_gb) AS d FROM"
            + " instances"
            + (host == null ? "" : " WHERE host = :h")
            + " GROUP BY "
            + group
            + " ORDER BY "
            + group;
    var q = tx.handle().createQuery(sql);
    if (host != null) q.bind("h", host);
    return q.map(
            (rs, ctx) ->
                new Usage(
                    rs.getString("host"),
                    perProject ? rs.getString("project_id") : null,
                    rs.getLong("n"),
                    rs.getLong("c"),
                    rs.getLong("m"),
                    rs.getLong("d")))
        .list();
  }
}
