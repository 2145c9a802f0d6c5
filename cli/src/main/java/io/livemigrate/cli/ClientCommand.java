package io.livemigrate.cli;

import io.livemigrate.cli.ApiClient.ApiError;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What every client command shares: {@code --os-endpoint/--os-token} (or OS_ENDPOINT/OS_TOKEN, as
 * the stock clients read them), the output options and {@code --help}. Exit status 0 on success; 1
 * with the API's message and request id on stderr when the API refuses or a waited-for migration
 * does not end well.
 */
@Command(
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    footer = {"", "Exit status: 0 done, 1 refused or failed (the API's message on stderr)."})
abstract class ClientCommand implements Callable<Integer> {
  @Option(
      names = "--os-endpoint",
      paramLabel = "URL",
      description = "API endpoint, e.g. http://127.0.0.1:8774/v2.1 (default: $OS_ENDPOINT)")
  String endpoint = System.getenv("OS_ENDPOINT");

  @Option(
      names = "--os-token",
      paramLabel = "TOKEN",
      description = "API token (default: $OS_TOKEN)")
  String token = System.getenv("OS_TOKEN");

  @Mixin Output.Options output;

  PrintStream out = System.out;
  PrintStream err = System.err;

  abstract int run(ApiClient api) throws Exception;

  @Override
  public Integer call() throws Exception {
    try {
      return run(new ApiClient(endpoint, token));
    } catch (ApiError e) {
      err.println(e.getMessage());
      return 1;
    }
  }

  /** A command group: prints its subcommands when called alone. */
  @Command(mixinStandardHelpOptions = true, versionProvider = Main.Version.class)
  abstract static class Group implements Callable<Integer> {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      spec.commandLine().usage(System.err);
      return 2;
    }
  }
}
