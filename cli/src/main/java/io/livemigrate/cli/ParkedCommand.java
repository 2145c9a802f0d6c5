package io.livemigrate.cli;

import io.livemigrate.common.bus.BusSettings;
import io.livemigrate.common.bus.ParkedMessages;
import io.livemigrate.common.bus.ParkedMessages.Parked;
import io.livemigrate.common.config.Config;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code livemigrate parked list|replay|drop}: the messages the bus parked (undecodable, invalid,
 * from a sender not entitled to them, failing every time, unroutable) and what to do with them.
 * Connects with the configuration's {@code transport_url} (the conductor's login reads the parking
 * queue).
 */
@Command(
    name = "parked",
    description = "Messages the bus parked: list, replay or drop them.",
    subcommands = {
      CommandLine.HelpCommand.class,
      ParkedCommand.ListCmd.class,
      ParkedCommand.Replay.class,
      ParkedCommand.Drop.class
    })
final class ParkedCommand {
  private ParkedCommand() {}

  /** Options every sub-command takes. */
  abstract static class Base implements Callable<Integer> {
    @Option(names = "--config", description = "nova.conf-style file (transport_url, bus_namespace)")
    Path configFile;

    @Option(names = "--max", defaultValue = "1000", description = "look at this many at most")
    int max;

    @Option(names = "--json", description = "JSON instead of a table")
    boolean json;

    PrintStream out = System.out;
    Map<String, String> overrides = Map.of();

    <T> T run(Function<ParkedMessages, Future<T>> op) throws Exception {
      Config c = Config.load(configFile, System.getenv(), overrides);
      BusSettings s = BusSettings.from(c);
      Vertx vertx = Vertx.vertx();
      try {
        // Every client call on one context: the client's channel must not be shared across.
        Promise<T> result = Promise.promise();
        vertx
            .getOrCreateContext()
            .runOnContext(
                v ->
                    ParkedMessages.open(vertx, s)
                        .compose(p -> op.apply(p).eventually(p::close))
                        .onComplete(result));
        return result.future().await(120, TimeUnit.SECONDS);
      } finally {
        vertx.close().await(10, TimeUnit.SECONDS);
      }
    }

    void print(List<Parked> parked, String verb) {
      if (json) {
        JsonArray a = new JsonArray();
        for (Parked p : parked) {
          a.add(
              new JsonObject()
                  .put("id", p.id())
                  .put("type", p.type())
                  .put("cause", p.cause())
                  .put("reason", p.reason())
                  .put("queue", p.queue())
                  .put("exchange", p.exchange())
                  .put("routing_key", p.routingKey())
                  .put("user_id", p.userId())
                  .put("parked_by", p.parkedBy())
                  .put("parked_at", p.parkedAt())
                  .put("body", p.text()));
        }
        out.println(a.encodePrettily());
        return;
      }
      out.printf("%-36s  %-22s  %-14s  %-20s  %s%n", "ID", "TYPE", "CAUSE", "FROM", "REASON");
      for (Parked p : parked) {
        out.printf(
            "%-36s  %-22s  %-14s  %-20s  %s%n",
            p.id(), p.type(), p.cause(), p.userId(), p.reason());
      }
      out.println(parked.size() + " message(s) " + verb);
    }
  }

  /** Options choosing which messages a replay or drop acts on. */
  abstract static class Selecting extends Base {
    @Option(names = "--id", split = ",", description = "message id(s)")
    List<String> ids;

    @Option(names = "--cause", description = "only messages parked for this cause")
    String cause;

    @Option(names = "--all", description = "every parked message (with --cause: of that cause)")
    boolean all;

    Predicate<Parked> which() {
      if ((ids == null || ids.isEmpty()) && !all) {
        throw new IllegalArgumentException("name the messages: --id ID[,ID...] or --all");
      }
      return p -> (all || ids.contains(p.id())) && (cause == null || cause.equals(p.cause()));
    }
  }

  @Command(name = "list", description = "List parked messages with their cause and reason.")
  static final class ListCmd extends Base {
    @Override
    public Integer call() throws Exception {
      print(run(p -> p.list(max)), "parked");
      return 0;
    }
  }

  @Command(
      name = "replay",
      description =
          "Publish parked messages again where they were going (original properties), then remove"
              + " them from the parking queue.")
  static final class Replay extends Selecting {
    @Override
    public Integer call() throws Exception {
      Predicate<Parked> w;
      try {
        w = which();
      } catch (IllegalArgumentException e) {
        System.err.println(e.getMessage());
        return 2;
      }
      print(run(p -> p.replay(w, max)), "replayed");
      return 0;
    }
  }

  @Command(name = "drop", description = "Remove parked messages for good.")
  static final class Drop extends Selecting {
    @Override
    public Integer call() throws Exception {
      Predicate<Parked> w;
      try {
        w = which();
      } catch (IllegalArgumentException e) {
        System.err.println(e.getMessage());
        return 2;
      }
      print(run(p -> p.drop(w, max)), "dropped");
      return 0;
    }
  }
}
