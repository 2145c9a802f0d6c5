package io.livemigrate.agent.sim;

import io.livemigrate.agent.Hypervisor.IncomingSpec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a simulated host's domains and reservations in a file, as libvirtd keeps its domains while
 * the compute agent restarts: a restarted agent finds the guests that migrated in or out, not the
 * configured initial set. Running jobs are not kept (they would need a process of their own); an
 * agent that comes back therefore finds its journal's migration ended with the guest still here.
 */
public final class SimulatedState {
  private static final Logger LOG = LoggerFactory.getLogger(SimulatedState.class);
  private static final long SAVE_EVERY_MS = 50;

  private SimulatedState() {}

  /**
   * Restores {@code hv} from {@code file} when it exists (else keeps its configured guests), then
   * saves every change to it from a daemon thread.
   *
   * @return whether a saved state was restored
   */
  public static boolean keep(SimulatedHypervisor hv, Path file) {
    return keep(
        hv,
        file,
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "sim-state-" + hv.host());
              t.setDaemon(true);
              return t;
            }));
  }

  /**
   * As {@link #keep(SimulatedHypervisor, Path)}, saving from {@code saver}: a process with several
   * simulated hosts stops their savers with the executor it already owns.
   */
  public static boolean keep(SimulatedHypervisor hv, Path file, ScheduledExecutorService saver) {
    boolean restored = false;
    if (Files.exists(file)) {
      try {
        hv.restore(read(new JsonObject(Files.readString(file))));
        restored = true;
        LOG.info("[host {}] simulated domains restored from {}", hv.host(), file);
      } catch (IOException | RuntimeException e) {
        LOG.warn(
            "[host {}] {} unreadable, starting from the configuration: {}",
            hv.host(),
            file,
            e.toString());
      }
    }
    save(hv, file);
    saver.scheduleWithFixedDelay(
        () -> {
          if (hv.takeChange()) save(hv, file);
        },
        SAVE_EVERY_MS,
        SAVE_EVERY_MS,
        TimeUnit.MILLISECONDS);
    return restored;
  }

  static void save(SimulatedHypervisor hv, Path file) {
    SimulatedHypervisor.Snapshot s = hv.snapshot();
    JsonArray running = new JsonArray();
    s.running().forEach(d -> running.add(JsonObject.mapFrom(d)));
    JsonArray incoming = new JsonArray();
    s.incoming().forEach(i -> incoming.add(JsonObject.mapFrom(i)));
    JsonObject j =
        new JsonObject()
            .put("running", running)
            .put("paused", new JsonArray(s.paused()))
            .put("incoming", incoming);
    try {
      Files.createDirectories(file.getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.writeString(tmp, j.encode());
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static SimulatedHypervisor.Snapshot read(JsonObject j) {
    List<SimDomain> running = new ArrayList<>();
    for (Object o : j.getJsonArray("running")) running.add(((JsonObject) o).mapTo(SimDomain.class));
    List<String> paused = new ArrayList<>();
    for (Object o : j.getJsonArray("paused")) paused.add((String) o);
    List<IncomingSpec> incoming = new ArrayList<>();
    for (Object o : j.getJsonArray("incoming"))
      incoming.add(((JsonObject) o).mapTo(IncomingSpec.class));
    return new SimulatedHypervisor.Snapshot(running, paused, incoming);
  }
}
