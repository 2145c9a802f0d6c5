package io.livemigrate.cli;

import io.livemigrate.agent.sim.SimulatedHost;
import io.livemigrate.common.config.ComputeOptions;
import io.livemigrate.common.config.Config;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code config check}: validates a configuration as start-up would, without starting. */
final class ConfigCommand {
  private ConfigCommand() {}

  @Command(
      name = "config",
      description = "Configuration files: check.",
      subcommands = {CommandLine.HelpCommand.class, Check.class})
  static final class Group extends ClientCommand.Group {}

  @Command(
      name = "check",
      description = {
        "Check a configuration file (and the LIVEMIGRATE_* variables) as a service's start-up"
            + " would: every unknown key and invalid value, and simulated guests.",
        "Prints the file's name and OK, or every problem (exit status 78)."
      })
  static final class Check implements Callable<Integer> {
    @Option(
        names = "--config",
        paramLabel = "FILE",
        required = true,
        description = "nova.conf-style file")
    Path file;

    @Override
    public Integer call() {
      Config c = Main.config(file, Map.of());
      if ("simulated".equals(c.string(ComputeOptions.HYPERVISOR))) {
        SimulatedHost.guests(c, SimulatedHost.capacity(c));
      }
      System.out.println(file + ": OK");
      return 0;
    }
  }
}
