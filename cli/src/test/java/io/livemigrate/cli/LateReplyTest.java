package io.livemigrate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.livemigrate.agent.Hypervisor.HostResources;
import io.livemigrate.agent.sim.FailurePoint;
import io.livemigrate.agent.sim.SimDomain;
import io.livemigrate.common.bus.Topology;
import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Sender;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * A reply from a destination the migration no longer goes to (it was tried first and failed, and
 * the scheduler picked another) arrives late, correlated to the real prepare command it answers: it
 * must not advance the rescheduled migration. It is parked as {@code forbidden}, counted, and the
 * migration completes at the second destination with nothing left on the first.
 */
class LateReplyTest {
  private static final String VM = "0b5e0000-0000-4000-8000-000000001a7e";

  @Test
  void aLateOkFromADestinationTriedEarlierDoesNotAdvanceTheRescheduledMigration() throws Exception {
    // 2 GiB over a 256 MiB/s link: the copy to HostC takes seconds, long enough to reply into.
    SimDomain guest = ApiCloud.guest(VM, "late", "p1", 2048, 0, 0);
    try (ApiCloud c =
        ApiCloud.start(
            List.of(
                new AllInOne.HostSpec("HostA", ApiCloud.capacity(), List.of(guest)),
                // The most free RAM: the scheduler's first choice.
                new AllInOne.HostSpec("HostB", new HostResources(16, 131072, 1000), List.of()),
                new AllInOne.HostSpec("HostC", ApiCloud.capacity(), List.of())),
            Map.of(io.livemigrate.common.config.SimulatedOptions.SIM_LINK_MIBPS.key(), "256"))) {
      Topology t = new Topology(c.namespace);
      ConnectionFactory f = new ConnectionFactory();
      f.setUri(c.broker.url());
      try (Connection amqp = f.newConnection("late-reply-test")) {
        Channel ch = amqp.createChannel();
        // A copy of every command to HostB, as the broker routes them (topic exchange).
        String tap = ch.queueDeclare().getQueue();
        ch.queueBind(tap, t.commands(), t.computeQueue("HostB"));
        List<Envelope> toB = new CopyOnWriteArrayList<>();
        ch.basicConsume(
            tap,
            true,
            (tag, d) ->
                toB.add(
                    Envelope.fromJson(
                        new JsonObject(new String(d.getBody(), StandardCharsets.UTF_8)))),
            tag -> {});
        c.cloud.hypervisor("HostB").script(FailurePoint.PREPARE, VM, "no room after all");
        Http api = c.as(ApiCloud.ADMIN);
        Http.Response r =
            api.post(
                "/servers/" + VM + "/action",
                "{\"os-migrateLive\": {\"host\": null, \"block_migration\": false}}",
                "2.30");
        assertEquals(202, r.status(), r.body());
        Http.until(
            "rescheduled to HostC and copying",
            Duration.ofSeconds(30),
            () -> {
              JsonObject m = latest(api);
              return "HostC".equals(m.getString("dest_compute"))
                  && "running".equals(m.getString("status"));
            });
        Envelope prepare =
            toB.stream()
                .filter(e -> "prepare_destination".equals(e.type()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("HostB got no prepare: " + toB));
        Envelope late =
            prepare.reply(StepResult.ok("prepare_destination"), new Sender("compute", "HostB"));
        ch.basicPublish(
            t.commands(),
            t.conductorQueue(),
            new AMQP.BasicProperties.Builder()
                .messageId(late.id())
                .type(late.type())
                .contentType("application/json")
                .deliveryMode(2)
                .build(),
            late.toJson().encode().getBytes(StandardCharsets.UTF_8));
        Http.until("the late reply parked", Duration.ofSeconds(15), () -> parkedForbidden(c) >= 1);
        Http.until(
            "the migration ends",
            Duration.ofSeconds(60),
            () ->
                List.of("completed", "failed", "error").contains(latest(api).getString("status")));
        JsonObject m = latest(api);
        assertEquals("completed", m.getString("status"), m.encode());
        assertEquals("HostC", m.getString("dest_compute"));
        JsonObject s = api.get("/servers/" + VM).json().getJsonObject("server");
        assertEquals("HostC", s.getString("OS-EXT-SRV-ATTR:host"));
        assertTrue(c.cloud.hypervisor("HostC").domain(VM).isPresent());
        assertFalse(c.cloud.hypervisor("HostB").domain(VM).isPresent(), "nothing on HostB");
        assertFalse(c.cloud.hypervisor("HostB").hasIncoming(VM), "no reservation left on HostB");
        assertFalse(c.cloud.hypervisor("HostA").domain(VM).isPresent());
      }
    }
  }

  private static JsonObject latest(Http api) {
    var l = api.get("/os-migrations?instance_uuid=" + VM).json().getJsonArray("migrations");
    return l.isEmpty() ? new JsonObject() : l.getJsonObject(0);
  }

  private static double parkedForbidden(ApiCloud c) {
    String text = Http.raw("http://127.0.0.1:" + c.cloud.conductor().opsPort() + "/metrics");
    return text.lines()
        .filter(
            l -> l.startsWith("livemigrate_bus_parked_total{") && l.contains("cause=\"forbidden\""))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }
}
