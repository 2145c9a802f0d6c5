package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import picocli.CommandLine;

/**
 * Our CLI's manners: {@code --help} and {@code help} on every command, openstackclient's {@code -f
 * json|value|table|csv} and {@code -c}, human columns with {@code --long}, every action saying what
 * it did, and Ctrl-C during {@code --wait} (typed into a real pseudo-terminal) saying that the
 * migration goes on and how to follow or abort it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CliTest {
  static final String VM1 = "d1df1b5a-70c4-4fed-98b7-423362f2c47c";
  static final String HOG = "0b6c2f4e-3333-4a2b-9c3d-000000000005";
  static final long MIB = ApiCloud.MIB;

  ApiCloud cloud;

  @BeforeAll
  void start() throws Exception {
    cloud =
        ApiCloud.start(
            List.of(
                new AllInOne.HostSpec("HostA", ApiCloud.capacity(), List.of()),
                new AllInOne.HostSpec(
                    "HostB",
                    ApiCloud.capacity(),
                    List.of(
                        ApiCloud.guest(VM1, "vm1", "p1", 1024, 5 * MIB, 0),
                        // Dirties faster than the 1 GiB/s link: runs until aborted.
                        ApiCloud.guest(HOG, "hog", "p1", 1024, 3072 * MIB, 512 * MIB)))),
            Map.of());
  }

  @AfterAll
  void stop() throws Exception {
    if (cloud != null) cloud.close();
  }

  record Run(int exit, String out, String err) {}

  /** Runs the CLI in this JVM, as {@code main} would, with stdout and stderr captured. */
  Run cli(String... args) {
    PrintStream sysOut = System.out;
    PrintStream sysErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
      System.setOut(o);
      System.setErr(e);
      List<String> a = new ArrayList<>(List.of(args));
      if (!a.contains("help") && !a.contains("--help")) {
        a.add("--os-endpoint=" + cloud.endpoint);
        a.add("--os-token=" + ApiCloud.ADMIN);
      }
      CommandLine cl = Main.commandLine();
      int exit = cl.execute(a.toArray(String[]::new));
      return new Run(
          exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(sysOut);
      System.setErr(sysErr);
    }
  }

  Run ok(String... args) {
    Run r = cli(args);
    assertEquals(0, r.exit(), String.join(" ", args) + "\n" + r.out() + r.err());
    return r;
  }

  /** Every command path of the tree, e.g. [migration, list]. */
  static void walk(CommandLine cl, List<String> path, List<List<String>> into) {
    for (var e : cl.getSubcommands().entrySet()) {
      List<String> p = new ArrayList<>(path);
      p.add(e.getKey());
      into.add(p);
      walk(e.getValue(), p, into);
    }
  }

  @Test
  @Order(1)
  void everyCommandHasHelpAndAHelpSubcommandNamesIt() {
    List<List<String>> paths = new ArrayList<>();
    walk(Main.commandLine(), List.of(), paths);
    assertTrue(paths.size() >= 25, "commands: " + paths);
    int checked = 0;
    for (List<String> p : paths) {
      List<String> args = new ArrayList<>(p);
      args.add("--help");
      Run r = cli(args.toArray(String[]::new));
      assertEquals(0, r.exit(), args + ": " + r.err());
      if (p.get(p.size() - 1).equals("help")) {
        assertTrue(r.out().contains("Usage: livemigrate "), args + ":\n" + r.out());
      } else {
        String usage = "Usage: livemigrate " + String.join(" ", p);
        assertTrue(r.out().startsWith(usage), args + ":\n" + r.out());
      }
      assertTrue(r.out().contains("-h, --help"), args + ":\n" + r.out());
      checked++;
      if (p.size() >= 2 && !p.get(p.size() - 1).equals("help")) {
        // `livemigrate <group> help <command>` shows the same usage.
        List<String> h = new ArrayList<>(p.subList(0, p.size() - 1));
        h.add("help");
        h.add(p.get(p.size() - 1));
        Run hr = cli(h.toArray(String[]::new));
        assertEquals(0, hr.exit(), h + ": " + hr.err());
        assertEquals(r.out(), hr.out(), h.toString());
      }
    }
    Run top = ok("help", "server");
    assertTrue(top.out().startsWith("Usage: livemigrate server"), top.out());
    System.out.println("--help checked on " + checked + " commands");
  }

  @Test
  @Order(2)
  void formatsAndColumnsAsOpenstackclient() {
    JsonArray servers = new JsonArray(ok("server", "list", "-f", "json").out());
    JsonObject vm1 =
        servers.stream()
            .map(o -> (JsonObject) o)
            .filter(s -> "vm1".equals(s.getString("Name")))
            .findFirst()
            .orElseThrow();
    assertEquals("HostB", vm1.getString("Host"));
    assertEquals(VM1, vm1.getString("ID"));
    assertEquals(
        "vm1 HostB\n",
        ok("server", "list", "-f", "value", "-c", "Name", "-c", "Host", "--host", "HostB")
                .out()
                .lines()
                .filter(l -> l.startsWith("vm1"))
                .findFirst()
                .orElse("")
            + "\n");
    String table = ok("server", "list").out();
    assertTrue(table.startsWith("+---"), table);
    assertTrue(
        table.contains("| ID ") && table.contains("| Name ") && table.contains("vm1"), table);
    assertFalse(table.contains("RAM"), "RAM only with --long:\n" + table);
    String wide = ok("server", "list", "--long").out();
    assertTrue(wide.contains("RAM") && wide.contains("1.0 GiB"), wide);
    assertTrue(ok("server", "list", "-f", "csv").out().startsWith("\"ID\",\"Name\""));

    assertEquals(
        "HostB\n", ok("server", "show", "vm1", "-f", "value", "-c", "OS-EXT-SRV-ATTR:host").out());
    JsonObject shown = new JsonObject(ok("server", "show", "vm1", "-f", "json").out());
    assertEquals(1024, shown.getInteger("ram"));
    assertTrue(ok("server", "show", "vm1").out().contains("| ram "), "Field/Value table");
    assertTrue(
        ok("compute", "service", "list", "-f", "value", "-c", "Host").out().contains("HostB"));
    assertTrue(ok("hypervisor", "list", "-f", "json").out().contains("\"Hypervisor Hostname\""));
    assertTrue(ok("host", "show", "HostB").out().contains("(total)"));

    Run bad = cli("server", "list", "-c", "Nope");
    assertEquals(1, bad.exit());
    assertTrue(bad.err().contains("No recognized column names in [Nope]"), bad.err());
  }

  static final Pattern STARTED =
      Pattern.compile("Live migration (\\d+) of vm1 \\(" + VM1 + "\\) from HostB: \\w+");

  @Test
  @Order(3)
  void actionsSayWhatTheyDidAndListsAreHuman() {
    Run r = ok("server", "migrate", "vm1", "--live", "HostA");
    Matcher m = STARTED.matcher(r.out());
    assertTrue(m.find(), r.out());
    String id = m.group(1);
    assertTrue(r.out().contains("migration show vm1 " + id), r.out());
    assertTrue(r.out().contains("migration abort vm1 " + id), r.out());
    Http.until(
        "vm1 on HostA",
        Duration.ofSeconds(60),
        () ->
            "completed"
                .equals(
                    ok("migration", "show", "vm1", id, "-f", "value", "-c", "status")
                        .out()
                        .trim()));

    String list = ok("migration", "list", "--server", "vm1").out();
    // Names, not uuids; bytes and times for a person; the downtime.
    assertTrue(list.contains("| vm1 "), list);
    assertFalse(list.contains(VM1), "the uuid only with --long:\n" + list);
    assertTrue(list.contains("Downtime") && list.matches("(?s).*\\d+ ms.*"), list);
    assertTrue(list.contains("1.0 GiB") && list.contains("100%"), list);
    assertFalse(list.contains("null"), list);
    String wide = ok("migration", "list", "--server", "vm1", "--long").out();
    assertTrue(wide.contains(VM1) && wide.contains("Iterations"), wide);
    JsonObject j =
        new JsonArray(ok("migration", "list", "--server", "vm1", "-f", "json").out())
            .getJsonObject(0);
    assertEquals(1024L * MIB, j.getLong("Memory"), "json carries bytes");
    assertTrue(j.getValue("Downtime") instanceof Number, j.encode());
    assertEquals("vm1", j.getString("Server"));

    // Back to HostB, with -f json: the started migration as an object.
    JsonObject back =
        new JsonObject(ok("server", "migrate", "vm1", "--live", "HostB", "-f", "json").out());
    assertEquals("vm1", back.getString("server"));
    assertTrue(back.getLong("id") > Long.parseLong(id), back.encode());
  }

  @Test
  @Order(4)
  void ctrlCDuringWaitSaysTheMigrationContinuesAndHowToAbortIt() throws Exception {
    String id;
    try (Terminal t =
        Terminal.start(
            Terminal.livemigrate("server", "migrate", "hog", "--live", "HostA", "--wait"),
            Map.of("OS_ENDPOINT", cloud.endpoint, "OS_TOKEN", ApiCloud.ADMIN),
            Duration.ofMinutes(3))) {
      t.await(
          "the progress bar",
          Duration.ofSeconds(60),
          o -> o.contains("dirty ") && o.contains("running"));
      t.ctrlC();
      assertEquals(ProgressBar.EXIT_INTERRUPTED, t.exit(Duration.ofSeconds(30)), t.output());
      String out = t.output();
      Matcher m =
          Pattern.compile("Live migration (\\d+) of hog continues on the server").matcher(out);
      assertTrue(m.find(), out);
      id = m.group(1);
      assertTrue(out.contains("migration show hog " + id), out);
      assertTrue(out.contains("migration abort hog " + id), out);
    }
    // It did go on; and the printed command aborts it.
    assertEquals(
        "running", ok("migration", "show", "hog", id, "-f", "value", "-c", "status").out().trim());
    Run abort = ok("migration", "abort", "hog", id);
    assertTrue(
        abort.out().startsWith("Abort of live migration " + id + " of hog requested; status now:"),
        abort.out());
    Http.until(
        "hog cancelled",
        Duration.ofSeconds(60),
        () ->
            "cancelled"
                .equals(
                    ok("migration", "show", "hog", id, "-f", "value", "-c", "status")
                        .out()
                        .trim()));
  }
}
