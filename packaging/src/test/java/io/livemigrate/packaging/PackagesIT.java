package io.livemigrate.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the build made, read as an operator's tools read it: the three Debian packages (fields,
 * files, conffiles, maintainer scripts), their systemd units (restart policy, start limit,
 * hardening, the command line), and the tarball's launcher.
 */
class PackagesIT {
  static final Artifacts A = Artifacts.get();

  @Test
  void packagesHaveTheirFieldsAndFiles() throws Exception {
    String v = A.version();
    assertTrue(
        v.matches("\\d+\\.\\d+\\.\\d+~git\\d+\\.[0-9a-f]{7,}|\\d+\\.\\d+\\.\\d+~git0\\.nogit"), v);
    for (String pkg : List.of("common", "controller", "compute")) {
      Path deb = A.deb(pkg);
      assertEquals(
          "livemigrate-" + pkg, Sh.out("dpkg-deb", "-f", deb.toString(), "Package").trim());
      assertEquals(v, Sh.out("dpkg-deb", "-f", deb.toString(), "Version").trim());
      assertEquals("all", Sh.out("dpkg-deb", "-f", deb.toString(), "Architecture").trim());
      if (!pkg.equals("common")) {
        assertEquals(
            "livemigrate-common (= " + v + ")",
            Sh.out("dpkg-deb", "-f", deb.toString(), "Depends").trim());
      }
      // Maintainer scripts parse.
      Path ctl = Files.createTempDirectory("ctl");
      Sh.out("dpkg-deb", "-e", deb.toString(), ctl.toString());
      for (String script : List.of("postinst", "prerm", "postrm")) {
        Path s = ctl.resolve(script);
        if (Files.exists(s)) Sh.out("sh", "-n", s.toString());
      }
    }
    String common = Sh.out("dpkg-deb", "-c", A.deb("common").toString());
    for (String f :
        List.of(
            "./usr/bin/livemigrate",
            "./usr/share/livemigrate/lib/livemigrate-cli.jar",
            "./etc/logrotate.d/livemigrate",
            "./etc/livemigrate/",
            "./var/lib/livemigrate/",
            "./var/log/livemigrate/",
            "./usr/share/doc/livemigrate-common/operations.md",
            "./usr/share/doc/livemigrate-common/configuration.md")) {
      assertTrue(common.contains(f), f + " in livemigrate-common:\n" + common);
    }
    assertTrue(
        Sh.out("dpkg-deb", "-I", A.deb("common").toString())
            .contains("Depends: default-jre-headless"));
    String controller = Sh.out("dpkg-deb", "-c", A.deb("controller").toString());
    assertTrue(
        controller.contains("./lib/systemd/system/livemigrate-conductor.service"), controller);
    assertTrue(
        controller.contains("./lib/systemd/system/livemigrate-scheduler.service"), controller);
    assertTrue(
        controller.matches("(?s).*-rw-r----- .* \\./etc/livemigrate/controller\\.conf.*"),
        controller);
    String compute = Sh.out("dpkg-deb", "-c", A.deb("compute").toString());
    assertTrue(compute.contains("./lib/systemd/system/livemigrate-compute-agent.service"), compute);
    assertTrue(compute.contains("./etc/livemigrate/compute.conf"), compute);
    // Settings survive an upgrade: dpkg keeps the operator's edits of a conffile.
    assertEquals("/etc/livemigrate/controller.conf", conffiles(A.deb("controller")));
    assertEquals("/etc/livemigrate/compute.conf", conffiles(A.deb("compute")));
  }

  static String conffiles(Path deb) throws Exception {
    Path ctl = Files.createTempDirectory("ctl");
    Sh.out("dpkg-deb", "-e", deb.toString(), ctl.toString());
    return Files.readString(ctl.resolve("conffiles")).trim();
  }

  @Test
  void unitsRestartWithALimitAndAreHardened() throws Exception {
    for (String unit : List.of("conductor", "scheduler", "compute-agent")) {
      String u =
          Files.readString(A.root().resolve("deploy/systemd/livemigrate-" + unit + ".service"));
      String conf = unit.equals("compute-agent") ? "compute.conf" : "controller.conf";
      for (String line :
          List.of(
              "ExecStart=/usr/bin/livemigrate serve " + unit + " --config /etc/livemigrate/" + conf,
              "User=livemigrate",
              "Restart=on-failure",
              "StartLimitIntervalSec=300",
              "StartLimitBurst=5",
              "RestartPreventExitStatus=78",
              "NoNewPrivileges=yes",
              "ProtectSystem=strict",
              "ProtectHome=yes",
              "PrivateTmp=yes",
              "CapabilityBoundingSet=",
              "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6")) {
        assertTrue(u.lines().anyMatch(l -> l.equals(line)), unit + ": " + line);
      }
      assertTrue(
          u.lines().noneMatch(l -> l.startsWith("MemoryDenyWriteExecute")),
          "the JIT needs W+X memory");
      if (Sh.which("systemd-analyze")) {
        // Syntax as systemd reads it; the binary itself exists only once installed.
        Path unitFile = A.root().resolve("deploy/systemd/livemigrate-" + unit + ".service");
        List<String> problems = new ArrayList<>();
        for (String l : Sh.run("systemd-analyze", "verify", unitFile.toString()).lines().toList()) {
          if (l.startsWith("livemigrate-") && !l.contains("is not executable")) problems.add(l);
        }
        assertTrue(problems.isEmpty(), unit + ": " + problems);
      }
    }
  }

  @Test
  void tarballRunsFromAnyDirectoryAndKnowsItsVersion() throws Exception {
    Path dir = Files.createTempDirectory("tarball");
    Sh.out("tar", "xzf", A.tarball().toString(), "-C", dir.toString());
    Path top = dir.resolve("livemigrate-" + A.version());
    for (String f :
        List.of(
            "bin/livemigrate",
            "lib/livemigrate-cli.jar",
            "conf/controller.conf",
            "conf/compute.conf",
            "systemd/livemigrate-conductor.service",
            "docs/operations.md")) {
      assertTrue(Files.exists(top.resolve(f)), f);
    }
    assertTrue(Files.isExecutable(top.resolve("bin/livemigrate")));
    Path link = dir.resolve("lm");
    Files.createSymbolicLink(link, top.resolve("bin/livemigrate"));
    assertEquals("livemigrate " + A.version(), Sh.out(link.toString(), "--version").trim());
    assertEquals(
        top.resolve("conf/compute.conf") + ": OK",
        Sh.out(
                link.toString(),
                "config",
                "check",
                "--config",
                top.resolve("conf/compute.conf").toString())
            .trim());
  }
}
