package io.livemigrate.scheduler.impl;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.bus.Identities;
import io.livemigrate.common.bus.SenderCheck;
import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.ServiceHeartbeat;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Message;
import io.livemigrate.common.contract.SchedulerMessages.ReleaseClaim;
import io.livemigrate.common.contract.SchedulerMessages.SelectDestinations;
import io.livemigrate.common.contract.SchedulerMessages.ServiceStatus;
import io.livemigrate.common.contract.Sender;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Who may tell the scheduler what, under per-service identities. */
class SchedulerSendersTest {
  static final String VM = "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a";
  final SenderCheck check = SchedulerService.senders(Identities.of("", true));

  static String refuse(SenderCheck c, Message m, String user, Sender claimed) {
    Envelope e = Envelope.of(m, claimed).withUserId(user);
    return c.refuse(e, m);
  }

  static HostReport report(String host) {
    return new HostReport(host, "nova", "QEMU", 1L, 16, 32768, 500, false, false, List.of());
  }

  @Test
  void reportsAndHeartbeatsOnlyFromTheHostTheyAreAbout() {
    Sender b = new Sender("compute", "HostB");
    Sender c = new Sender("compute", "HostC");
    assertNull(refuse(check, report("HostB"), "compute-HostB", b));
    assertNull(refuse(check, new ServiceHeartbeat("HostB", "x", "nova", "1"), "compute-HostB", b));
    String forged = refuse(check, report("HostB"), "compute-HostC", c);
    assertNotNull(forged);
    assertTrue(forged.contains("for host HostB"), forged);
    assertNotNull(
        refuse(check, new ServiceHeartbeat("HostB", "x", "nova", "1"), "compute-HostC", c));
    assertNotNull(refuse(check, report("HostB"), "conductor", new Sender("conductor", "ctl")));
    assertNotNull(refuse(check, report("HostB"), null, b), "no user_id");
  }

  @Test
  void requestsReleasesAndStatusesOnlyFromTheConductor() {
    Sender ctl = new Sender("conductor", "ctl");
    Sender c = new Sender("compute", "HostC");
    List<Message> fromConductor =
        List.of(
            new SelectDestinations(VM, "HostA", null, 1, 512, 1, List.of()),
            new ReleaseClaim(VM, "completed"),
            new ServiceStatus("HostB", true, "maintenance", false));
    for (Message m : fromConductor) {
      assertNull(refuse(check, m, "conductor", ctl), m.toString());
      String r = refuse(check, m, "compute-HostC", c);
      assertNotNull(r, m + " from a compute host");
      assertTrue(r.contains("only conductor"), r);
      assertNotNull(refuse(check, m, "scheduler", new Sender("scheduler", "ctl")), "from itself");
      assertNotNull(refuse(check, m, "conductor", c), "a sender claim that is not the user");
    }
  }

  @Test
  void aSharedLoginChecksNothing() {
    SenderCheck off = SchedulerService.senders(Identities.of("", false));
    assertNull(refuse(off, report("HostB"), "guest", new Sender("compute", "HostC")));
    assertNull(
        refuse(off, new ReleaseClaim(VM, "failed"), "guest", new Sender("compute", "HostC")));
  }
}
