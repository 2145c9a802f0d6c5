package io.livemigrate.agent.sim;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * What crosses between simulated hosts. When a transfer completes, libvirt's finish phase leaves
 * the guest running on the destination whether or not anyone is watching; simulated hosts are
 * separate objects (or processes), so the source hands the guest over through a fabric and the
 * destination takes it in. With a fabric, the destination shows the guest only once it arrived, and
 * post-migration there refuses a guest that did not: nobody can conclude "completed" from the
 * guest's absence on the source alone. Without one ({@link #NONE}, a lone simulated host) a
 * destination trusts post-migration, as before.
 */
public interface SimFabric {
  /** Hands {@code guest} to {@code destHost}: its transfer there completed. */
  void deliver(String destHost, SimDomain guest);

  /** The guests delivered to {@code host} since the last call; each is handed over once. */
  List<SimDomain> take(String host);

  /** Whether this fabric links hosts (false: nothing is ever delivered). */
  default boolean linked() {
    return true;
  }

  /** No fabric: a destination's post-migration turns its reservation into the guest. */
  SimFabric NONE =
      new SimFabric() {
        @Override
        public void deliver(String destHost, SimDomain guest) {}

        @Override
        public List<SimDomain> take(String host) {
          return List.of();
        }

        @Override
        public boolean linked() {
          return false;
        }
      };

  /** Hosts in one process (the all-in-one, tests). */
  static SimFabric inMemory() {
    Map<String, Queue<SimDomain>> inboxes = new ConcurrentHashMap<>();
    return new SimFabric() {
      @Override
      public void deliver(String destHost, SimDomain guest) {
        inboxes.computeIfAbsent(destHost, h -> new ConcurrentLinkedQueue<>()).add(guest);
      }

      @Override
      public List<SimDomain> take(String host) {
        Queue<SimDomain> q = inboxes.get(host);
        List<SimDomain> out = new ArrayList<>();
        if (q == null) return out;
        for (SimDomain g; (g = q.poll()) != null; ) out.add(g);
        return out;
      }
    };
  }

  /**
   * Hosts in separate processes on one machine ({@code [simulated] fabric_dir}): one file per
   * delivered guest under {@code dir/<host>/}, written atomically, taken (deleted) by that host.
   */
  static SimFabric directory(Path dir) {
    return new SimFabric() {
      @Override
      public void deliver(String destHost, SimDomain guest) {
        try {
          Path inbox = Files.createDirectories(dir.resolve(destHost));
          Path tmp = inbox.resolve(guest.uuid() + ".tmp");
          Files.writeString(tmp, JsonObject.mapFrom(guest).encode());
          Files.move(
              tmp,
              inbox.resolve(guest.uuid() + ".json"),
              StandardCopyOption.ATOMIC_MOVE,
              StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }

      @Override
      public List<SimDomain> take(String host) {
        Path inbox = dir.resolve(host);
        List<SimDomain> out = new ArrayList<>();
        if (!Files.isDirectory(inbox)) return out;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(inbox, "*.json")) {
          for (Path f : files) {
            out.add(new JsonObject(Files.readString(f)).mapTo(SimDomain.class));
            Files.delete(f);
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        return out;
      }
    };
  }
}
