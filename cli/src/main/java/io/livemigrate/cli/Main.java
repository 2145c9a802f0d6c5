package io.livemigrate.cli;

import io.livemigrate.cli.Lifecycle.PortUse;
import io.livemigrate.common.config.Config;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;

/** The one executable: the all-in-one, each service alone, and client commands. */
@Command(
    name = "livemigrate",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    // --help and --version on every subcommand, as the stock clients have them.
    scope = CommandLine.ScopeType.INHERIT,
    description = "Live migration of running VMs between compute hosts.",
    footer = {
      "",
      "Client commands read OS_ENDPOINT and OS_TOKEN, as the openstack client does.",
      "'livemigrate help COMMAND' or 'livemigrate COMMAND --help' shows a command's options."
    },
    subcommands = {
      CommandLine.HelpCommand.class,
      AllInOneCommand.class,
      ServeCommand.class,
      ServerCommands.Group.class,
      ServiceCommands.Group.class,
      HostCommands.Group.class,
      HostCommands.HypervisorGroup.class,
      MigrationCommands.Group.class,
      ConfigCommand.Group.class,
      PolicyReplay.class,
      SetupCommand.class,
      ParkedCommand.class
    })
public final class Main implements Callable<Integer> {

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The command tree with its error handling, as {@link #main} runs it (tests use it too). */
  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler(
        (e, line, parsed) -> {
          // Configuration and start-up problems are the operator's to fix: one line, no trace.
          String msg =
              Lifecycle.oneLine(
                  line.getCommandSpec().qualifiedName().replaceFirst("^livemigrate ", ""),
                  e,
                  List.of());
          if (msg == null) throw e;
          line.getErr().println(msg);
          return Lifecycle.exitCode(e);
        });
    return cl;
  }

  @Override
  public Integer call() {
    new CommandLine(this).usage(System.out);
    return 0;
  }

  /** The program name to show in hints: {@code livemigrate} when run by the installed launcher. */
  static String prog() {
    return System.getProperty("livemigrate.prog", "java -jar cli/target/livemigrate.jar");
  }

  static Config config(Path file, Map<String, String> overrides) {
    return Config.load(file, System.getenv(), overrides);
  }

  /**
   * Reports a failed start as one line when the operator can act on it (a stack trace only for what
   * looks like a bug), closes what started so no client keeps retrying, and returns the exit
   * status.
   */
  static int failed(String what, Exception e, List<PortUse> ports, Vertx vertx) {
    String msg = Lifecycle.oneLine(what, e, ports);
    if (msg != null) {
      System.err.println(msg);
    } else if (e instanceof RuntimeException && !(e instanceof java.io.UncheckedIOException)) {
      System.err.println("livemigrate " + what + ": failed to start: " + e);
      e.printStackTrace();
    } else {
      System.err.println("livemigrate " + what + ": failed to start: " + e.getMessage());
    }
    close(vertx);
    return Lifecycle.exitCode(e);
  }

  /** Closes Vert.x (every verticle stops, buses close), reporting a failure in one line. */
  static void close(Vertx vertx) {
    if (vertx == null) return;
    try {
      vertx.close().await(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      System.err.println("livemigrate: stopping: " + e.getMessage());
    }
  }

  /** The version the build wrote into the jar's manifest (from git), or "development". */
  static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"livemigrate " + version()};
    }

    static String version() {
      String v = Main.class.getPackage().getImplementationVersion();
      return v == null || v.isBlank() ? "development" : v;
    }
  }
}
