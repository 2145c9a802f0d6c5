package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.agent.sim.SimulatedHypervisor;
import io.livemigrate.common.bus.Topology;
import io.livemigrate.common.config.SimulatedOptions;
import io.livemigrate.common.contract.AgentCommands.AbortMigration;
import io.livemigrate.common.contract.AgentCommands.PrepareDestination;
import io.livemigrate.common.contract.AgentCommands.RollbackAtDestination;
import io.livemigrate.common.contract.AgentCommands.StartMigration;
import io.livemigrate.common.contract.AgentEvents.MigrationFailed;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Sender;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * An abort and the start it cancels can reach the source in either order: a start left in a killed
 * conductor's outbox is sent again by another conductor seconds later, after the completion or
 * start deadline sent the abort. Seen in the two-conductor fault run: the abort found no job, the
 * migration was failed with the guest "still on the source", then the late start moved the guest.
 * The agent must never start a migration it was told to abort, in whichever order they come, and an
 * abort right behind its start must cancel the job, not miss it; likewise a destination's rollback
 * and its prepare.
 */
class AbortBeforeStartTest {
  private static final String VM = "0b5e0000-0000-4000-8000-0000000ab047";
  private static final Sender CONDUCTOR = new Sender("conductor", "test");

  @Test
  void aStartThatArrivesAfterItsAbortIsNeverStartedAndAnAbortBehindItsStartCancelsIt()
      throws Exception {
    // 2 GiB over 256 MiB/s: a started copy runs ~8 s, far longer than the checks below.
    SimDomain guest = ApiCloud.guest(VM, "abort-first", "p1", 2048, 0, 0);
    try (ApiCloud c =
        ApiCloud.start(
            List.of(
                new AllInOne.HostSpec("HostA", ApiCloud.capacity(), List.of(guest)),
                new AllInOne.HostSpec("HostB", ApiCloud.capacity(), List.of())),
            Map.of(SimulatedOptions.SIM_LINK_MIBPS.key(), "256"))) {
      Topology t = new Topology(c.namespace);
      SimulatedHypervisor source = c.cloud.hypervisor("HostA");
      ConnectionFactory f = new ConnectionFactory();
      f.setUri(c.broker.url());
      try (Connection amqp = f.newConnection("abort-before-start-test")) {
        Channel ch = amqp.createChannel();
        String replies = c.namespace + ".test-replies-" + UUID.randomUUID();
        ch.queueDeclare(replies, false, true, true, null);
        ch.queueBind(replies, t.commands(), replies);
        List<Envelope> got = new CopyOnWriteArrayList<>();
        ch.basicConsume(
            replies,
            true,
            (tag, d) ->
                got.add(
                    Envelope.fromJson(
                        new JsonObject(new String(d.getBody(), StandardCharsets.UTF_8)))),
            tag -> {});

        // 1. The abort first: no job yet, so NO_JOB; the start behind it must not run.
        String first = UUID.randomUUID().toString();
        Envelope abort1 = command(abort(), first, replies);
        publish(ch, t, abort1);
        StepResult r1 = stepResult(got, abort1);
        assertEquals("NO_JOB", r1.reason(), "no job ran when the abort came: " + r1);
        publish(ch, t, command(start(), first, replies));
        long until = System.nanoTime() + Duration.ofSeconds(3).toNanos();
        while (System.nanoTime() < until) {
          assertTrue(source.jobStats(VM).isEmpty(), "a migration started after its abort: " + got);
          assertTrue(source.domain(VM).isPresent(), "the guest left HostA after its abort");
          Thread.sleep(50);
        }

        // 2. The abort right behind its start: it waits for the job and cancels it.
        String second = UUID.randomUUID().toString();
        Envelope start2 = command(start(), second, replies);
        Envelope abort2 = command(abort(), second, replies);
        publish(ch, t, start2);
        publish(ch, t, abort2);
        StepResult r2 = stepResult(got, abort2);
        assertTrue(r2.ok(), "the abort behind its start found the job: " + r2);
        Http.until(
            "the cancelled job's outcome",
            Duration.ofSeconds(20),
            () -> got.stream().anyMatch(e -> isCancelled(e, start2)));
        assertTrue(source.jobStats(VM).isEmpty(), "no job left on HostA");
        assertEquals(
            List.of("running"),
            source.listDomains().stream()
                .filter(d -> VM.equals(d.uuid()))
                .map(d -> d.state())
                .toList(),
            "the guest runs on HostA");

        // 3. The destination's rollback before its prepare: the late prepare reserves nothing.
        String third = UUID.randomUUID().toString();
        Envelope rollback = command(new RollbackAtDestination(VM), third, replies);
        publish(ch, t, "HostB", rollback);
        stepResult(got, rollback);
        Envelope prepare =
            command(
                new PrepareDestination(
                    VM, "abort-first", "HostA", 1, 2048, 1, false, null, null, null, null, null),
                third,
                replies);
        publish(ch, t, "HostB", prepare);
        StepResult r3 = stepResult(got, prepare);
        assertEquals("ROLLED_BACK", r3.reason(), "a prepare after its rollback: " + r3);
        assertFalse(c.cloud.hypervisor("HostB").hasIncoming(VM), "no reservation on HostB");
      }
    }
  }

  private static StartMigration start() {
    return new StartMigration(VM, "HostB", false, false, false, 0, 500);
  }

  private static AbortMigration abort() {
    return new AbortMigration(VM, "COMPLETION_TIMEOUT", 6);
  }

  private static Envelope command(
      io.livemigrate.common.contract.Message body, String migrationId, String replies) {
    Envelope e = Envelope.of(body, CONDUCTOR).withMigration(migrationId, "req-" + migrationId);
    return e.withReplyTo(replies, null);
  }

  private static void publish(Channel ch, Topology t, Envelope e) throws Exception {
    publish(ch, t, "HostA", e);
  }

  private static void publish(Channel ch, Topology t, String host, Envelope e) throws Exception {
    ch.basicPublish(
        t.commands(),
        t.computeQueue(host),
        new AMQP.BasicProperties.Builder()
            .messageId(e.id())
            .type(e.type())
            .contentType("application/json")
            .deliveryMode(2)
            .build(),
        e.toJson().encode().getBytes(StandardCharsets.UTF_8));
  }

  private static StepResult stepResult(List<Envelope> got, Envelope to) {
    Http.until(
        "the agent's answer to " + to.type(),
        Duration.ofSeconds(20),
        () -> got.stream().anyMatch(e -> to.id().equals(e.correlationId())));
    return got.stream()
        .filter(e -> to.id().equals(e.correlationId()))
        .findFirst()
        .orElseThrow()
        .body(StepResult.class);
  }

  private static boolean isCancelled(Envelope e, Envelope start) {
    return start.id().equals(e.correlationId())
        && "migration_failed".equals(e.type())
        && e.body(MigrationFailed.class).cancelled();
  }
}
