package io.livemigrate.cli.faults;

import io.livemigrate.cli.Http;
import io.livemigrate.cli.faults.Verdict.Expect;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The all-in-one (embedded broker, H2 file store, simulated hosts) stopped with SIGTERM while vm1
 * copies and started again on the same data directory. Its simulated hypervisors come back as
 * configured (vm1 on HostB) and forget the job, so the correct end is {@code failed} with a reason,
 * vm1 ACTIVE on HostB, within 2 x service_down_time of the restart.
 */
final class AllInOneRestart implements Cloud {
  static final String VM1 = "d1df1b5a-70c4-4fed-98b7-423362f2c47c";
  private static final Pattern READY = Pattern.compile("all-in-one ready");
  private static final int SERVICE_DOWN_TIME_S = 10;

  private final Path dir;
  private final int apiPort;
  private final int opsBase;
  private Http api;

  AllInOneRestart(Path dir, int apiPort, int opsBase) {
    this.dir = dir;
    this.apiPort = apiPort;
    this.opsBase = opsBase;
  }

  /**
   * @param killAfterAccept SIGKILL the process the moment the API answered 202 (instead of SIGTERM
   *     mid-copy): the H2 store must have the accepted migration after the restart
   */
  Verdict run(boolean killAfterAccept) throws Exception {
    Files.createDirectories(dir);
    Path conf = dir.resolve("livemigrate.conf");
    Files.writeString(
        conf,
        String.join(
            "\n",
            "[DEFAULT]",
            "report_interval = 1",
            "service_down_time = " + SERVICE_DOWN_TIME_S,
            "[ops]",
            "port = " + opsBase,
            "[simulated]",
            // Mid-copy for a while when stopped mid-copy: vm1's 2 GiB at 64 MiB/s. Killed after
            // the 202 the copy only starts after the restart, and must end within the bound.
            "link_bandwidth_mibps = " + (killAfterAccept ? 1024 : 64),
            ""));
    List<String> args =
        List.of(
            "all-in-one",
            "--config",
            conf.toString(),
            "--data",
            dir.resolve("data").toString(),
            "--api-port",
            Integer.toString(apiPort));
    Map<String, String> env = Map.of("LIVEMIGRATE_ADMIN_TOKEN", Fleet.TOKEN);
    ServiceProcess p = new ServiceProcess("all-in-one", args, env, dir.resolve("all-in-one.log"));
    api = new Http("http://127.0.0.1:" + apiPort + "/v2.1", Fleet.TOKEN);
    try {
      p.start().await(READY, Duration.ofSeconds(90));
      Http.until(
          "vm1 on HostB",
          Duration.ofSeconds(30),
          () -> "HostB".equals(server(VM1).getString("OS-EXT-SRV-ATTR:host")));
      Http.Response r =
          api.post(
              "/servers/" + VM1 + "/action",
              "{\"os-migrateLive\": {\"host\": \"HostC\", \"block_migration\": false}}",
              "2.30");
      if (r.status() != 202) throw new IllegalStateException("migrate: " + r.status() + r.body());
      if (killAfterAccept) {
        p.kill();
        p.start().await(READY, Duration.ofSeconds(90));
        long restarted = System.nanoTime();
        if (latest(VM1) == null) {
          return new Verdict(
              "all-in-one SIGKILL after 202",
              false,
              1,
              0,
              0,
              "-",
              List.of("the accepted migration is not in the store after kill -9"));
        }
        return Verdict.check(
            "all-in-one SIGKILL after 202",
            this,
            List.of(Expect.eitherWay(VM1, "HostB", "HostC")),
            Duration.ofSeconds(2L * SERVICE_DOWN_TIME_S),
            restarted);
      }
      Http.until(
          "vm1 copying",
          Duration.ofSeconds(30),
          () -> {
            JsonObject m = latest(VM1);
            return m != null && m.getLong("memory_processed_bytes", 0L) > 0;
          });
      int exit = p.terminate(Duration.ofSeconds(30));
      if (exit != 0 && exit != 143) {
        throw new IllegalStateException("all-in-one exited with " + exit + "\n" + p.tail(40));
      }
      p.start().await(READY, Duration.ofSeconds(90));
      long restarted = System.nanoTime();
      Verdict v =
          Verdict.check(
              "all-in-one SIGTERM and start",
              this,
              List.of(Expect.fails(VM1, "HostB", "HostC")),
              Duration.ofSeconds(2L * SERVICE_DOWN_TIME_S),
              restarted);
      String reason = latest(VM1).getString("reason");
      if (reason == null) v = v.with("failed without a reason");
      return v;
    } catch (Exception | AssertionError e) {
      throw new IllegalStateException(e + "\n" + p.tail(60), e);
    } finally {
      p.terminate(Duration.ofSeconds(20));
    }
  }

  @Override
  public JsonObject latest(String uuid) {
    JsonArray l =
        api.get("/os-migrations?instance_uuid=" + uuid, "2.59").json().getJsonArray("migrations");
    return l.isEmpty() ? null : l.getJsonObject(0);
  }

  @Override
  public JsonObject server(String uuid) {
    return api.get("/servers/" + uuid).json().getJsonObject("server");
  }

  /** The all-in-one's agents serve /health at base+2.. in host order (HostA, HostB, HostC). */
  @Override
  public Path logDir() {
    return dir;
  }

  @Override
  public Map<String, String> runsOn(String uuid) {
    Map<String, String> out = new TreeMap<>();
    List<String> hosts = List.of("HostA", "HostB", "HostC");
    for (int i = 0; i < hosts.size(); i++) {
      JsonObject h = new JsonObject(Http.raw("http://127.0.0.1:" + (opsBase + 2 + i) + "/health"));
      String state = h.getJsonObject("domains", new JsonObject()).getString(uuid);
      if (state != null) out.put(hosts.get(i), state);
    }
    return out;
  }
}
