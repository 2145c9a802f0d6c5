package io.livemigrate.common.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.livemigrate.common.contract.AgentEvents.StepResult;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Golden samples of every wire contract, and a fingerprint of every record, so that a change to a
 * message's shape cannot slip through without a version bump and a new golden sample.
 */
class ContractGoldenTest {

  private static final String BUMP =
      "bump VERSION and update the golden sample (common/src/test/resources/contracts/)";

  /** A contract's version and its fields, as {@code name:Type}, nested records flattened. */
  private record Fingerprint(int version, List<String> fields) {
    static Fingerprint of(int version, String... fields) {
      return new Fingerprint(version, Arrays.stream(fields).sorted().toList());
    }
  }

  /**
   * What every registered record looks like. Changing a record without bumping its VERSION,
   * updating this table and adding a golden sample fails {@link
   * #recordShapesMatchTheirFingerprints()}.
   */
  private static final Map<String, Fingerprint> FINGERPRINTS =
      Map.ofEntries(
          Map.entry(
              "select_destinations",
              Fingerprint.of(
                  1,
                  "instanceUuid:String",
                  "sourceHost:String",
                  "requestedHost:String",
                  "vcpus:int",
                  "memoryMb:long",
                  "diskGb:long",
                  "ignoreHosts:List<String>")),
          Map.entry(
              "destinations",
              Fingerprint.of(
                  2, "hosts:List<String>", "rejected:Map<String,String>", "waitReason:String")),
          Map.entry("release_claim", Fingerprint.of(1, "instanceUuid:String", "outcome:String")),
          Map.entry(
              "in_flight",
              Fingerprint.of(
                  1,
                  "asOfMs:long",
                  "migrations:List<Claimed>",
                  "migrations.instanceUuid:String",
                  "migrations.sourceHost:String",
                  "migrations.destHost:String",
                  "migrations.vcpus:int",
                  "migrations.memoryMb:long",
                  "migrations.diskGb:long")),
          Map.entry(
              "service_status",
              Fingerprint.of(
                  1,
                  "host:String",
                  "disabled:boolean",
                  "disabledReason:String",
                  "forcedDown:boolean")),
          Map.entry(
              "prepare_destination",
              Fingerprint.of(
                  2,
                  "instanceUuid:String",
                  "instanceName:String",
                  "sourceHost:String",
                  "vcpus:int",
                  "memoryMb:long",
                  "diskGb:long",
                  "blockMigration:boolean",
                  "cpuXml:String",
                  "machineType:String",
                  "sourceHypervisorVersion:Long",
                  "sharedStorage:Boolean",
                  "dirtyRateBps:Long")),
          Map.entry(
              "start_migration",
              Fingerprint.of(
                  1,
                  "instanceUuid:String",
                  "destHost:String",
                  "blockMigration:boolean",
                  "autoConverge:boolean",
                  "postCopy:boolean",
                  "bandwidthMibps:long",
                  "maxDowntimeMs:int")),
          Map.entry(
              "abort_migration",
              Fingerprint.of(1, "instanceUuid:String", "reason:String", "afterSeconds:long")),
          Map.entry(
              "force_complete",
              Fingerprint.of(1, "instanceUuid:String", "mode:String", "reason:String")),
          Map.entry(
              "tune_migration",
              Fingerprint.of(1, "instanceUuid:String", "maxDowntimeMs:int", "bandwidthMibps:long")),
          Map.entry(
              "post_at_destination", Fingerprint.of(1, "instanceUuid:String", "sourceHost:String")),
          Map.entry("rollback_at_destination", Fingerprint.of(1, "instanceUuid:String")),
          Map.entry("cleanup_source", Fingerprint.of(1, "instanceUuid:String", "destHost:String")),
          Map.entry(
              "service_heartbeat",
              Fingerprint.of(
                  1, "host:String", "binary:String", "zone:String", "serviceVersion:String")),
          Map.entry(
              "host_report",
              Fingerprint.of(
                  3,
                  "host:String",
                  "zone:String",
                  "hypervisorType:String",
                  "hypervisorVersion:long",
                  "vcpus:int",
                  "memoryMb:long",
                  "diskGb:long",
                  "permitPostCopy:boolean",
                  "permitAutoConverge:boolean",
                  "instances:List<InstanceReport>",
                  "instances.uuid:String",
                  "instances.name:String",
                  "instances.state:String",
                  "instances.vcpus:int",
                  "instances.memoryMb:long",
                  "instances.diskGb:long",
                  "instances.projectId:String",
                  "instances.userId:String",
                  "instances.flavor:String",
                  "instances.cpuXml:String",
                  "instances.machineType:String",
                  "instances.dirtyRateBps:Long",
                  "instances.memoryDataBytes:Long",
                  "jobs:List<String>",
                  "sharedStorageWith:List<String>",
                  "cpuAllocationRatio:Double",
                  "ramAllocationRatio:Double",
                  "diskAllocationRatio:Double",
                  "cpuModel:String",
                  "maxOutboundMigrations:Integer",
                  "maxInboundMigrations:Integer")),
          Map.entry(
              "step_result",
              Fingerprint.of(
                  2,
                  "step:String",
                  "ok:boolean",
                  "reason:String",
                  "message:String",
                  "details:Map<String,String>")),
          Map.entry(
              "migration_progress",
              Fingerprint.of(
                  2,
                  "instanceUuid:String",
                  "mode:String",
                  "memoryTotalBytes:long",
                  "memoryProcessedBytes:long",
                  "memoryRemainingBytes:long",
                  "diskTotalBytes:long",
                  "diskProcessedBytes:long",
                  "diskRemainingBytes:long",
                  "dirtyRateBps:long",
                  "bandwidthBps:long",
                  "iteration:int",
                  "expectedDowntimeMs:long",
                  "elapsedMs:long",
                  "epoch:Long")),
          Map.entry(
              "migration_completed",
              Fingerprint.of(
                  1,
                  "instanceUuid:String",
                  "downtimeMs:long",
                  "memoryTotalBytes:long",
                  "memoryTransferredBytes:long",
                  "diskTotalBytes:long",
                  "diskTransferredBytes:long",
                  "iterations:int",
                  "elapsedMs:long",
                  "mode:String")),
          Map.entry(
              "migration_failed",
              Fingerprint.of(
                  1,
                  "instanceUuid:String",
                  "reason:String",
                  "message:String",
                  "cancelled:boolean",
                  "elapsedMs:long")));

  static Stream<Arguments> registered() {
    return new TreeMap<>(Contracts.all())
        .values().stream().map(e -> Arguments.of(e.type(), e.version(), e.cls()));
  }

  // ------------------------------------------------------------------ golden samples

  @ParameterizedTest(name = "{0} v{1}")
  @MethodSource("registered")
  void goldenSampleDecodesAndReencodesUnchanged(
      String type, int version, Class<? extends Message> cls) {
    JsonObject golden = golden(type, version);

    // Parsed from text, exactly as the bus does with a delivery's bytes.
    Envelope env = Envelope.fromJson(golden(type, version));
    Message body = Contracts.decode(env);

    assertInstanceOf(cls, body, type + " must decode into " + cls.getSimpleName());
    assertEquals(type, body.messageType(), "type written by " + cls.getSimpleName());
    assertEquals(version, body.messageVersion(), "version written by " + cls.getSimpleName());
    assertEquals(body, env.body(cls), "Envelope.body must decode the same record");
    assertEquals(golden, env.toJson(), type + ": Envelope.toJson must reproduce the golden JSON");

    // Encode the decoded record again: every field must survive the round trip.
    Envelope reencoded =
        new Envelope(
            env.type(),
            env.version(),
            env.id(),
            env.correlationId(),
            env.migrationId(),
            env.requestId(),
            env.seq(),
            env.sentAt(),
            env.sender(),
            env.replyTo(),
            Json.toJson(body));
    assertEquals(
        golden,
        reencoded.toJson(),
        type
            + ": re-encoding the decoded record must reproduce the golden JSON; if the record"
            + " changed, "
            + BUMP);
    assertEquals(body, Contracts.decode(Envelope.fromJson(reencoded.toJson())));
  }

  @ParameterizedTest(name = "{0} v{1}")
  @MethodSource("registered")
  void goldenSampleIsAFullEnvelope(String type, int version, Class<? extends Message> cls) {
    JsonObject golden = golden(type, version);
    for (String key : List.of("type", "version", "id", "sentAt", "sender", "payload")) {
      assertTrue(golden.containsKey(key), type + " golden sample lacks " + key);
    }
    assertEquals("2025-01-15", golden.getString("sentAt").substring(0, 10), "fixed sentAt");
    // Every record component appears in the payload, so the sample documents the whole shape.
    Set<String> components =
        Arrays.stream(cls.getRecordComponents())
            .map(RecordComponent::getName)
            .collect(Collectors.toCollection(TreeSet::new));
    assertEquals(
        components,
        new TreeSet<>(golden.getJsonObject("payload").fieldNames()),
        type + " golden payload must list every field of " + cls.getSimpleName());
  }

  @Test
  void everyRegisteredTypeHasAGoldenSampleAndNoSampleIsStale() throws Exception {
    List<String> missing = new ArrayList<>();
    Set<String> expected = new TreeSet<>();
    for (Contracts.Entry e : Contracts.all().values()) {
      String name = e.type() + ".v" + e.version() + ".json";
      expected.add(name);
      if (ContractGoldenTest.class.getResource("/contracts/" + name) == null) missing.add(name);
    }
    assertTrue(missing.isEmpty(), "golden samples missing for " + missing);

    Set<String> present;
    try (Stream<Path> files = Files.list(contractsDir())) {
      present =
          files.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    }
    present.removeAll(expected);
    assertTrue(
        present.isEmpty(),
        "golden samples without a registered type/version (rename after a VERSION bump): "
            + present);
  }

  // ------------------------------------------------------------------ fingerprints

  @Test
  void recordShapesMatchTheirFingerprints() {
    Map<String, Contracts.Entry> all = Contracts.all();
    assertEquals(
        new TreeSet<>(FINGERPRINTS.keySet()),
        new TreeSet<>(all.keySet()),
        "registered types and the fingerprint table differ; add the new type to FINGERPRINTS"
            + " and add a golden sample");
    List<String> problems = new ArrayList<>();
    for (Contracts.Entry e : new TreeMap<>(all).values()) {
      Fingerprint actual = new Fingerprint(e.version(), fields(e.cls()));
      Fingerprint expected = FINGERPRINTS.get(e.type());
      if (!actual.equals(expected)) {
        problems.add(
            e.type()
                + " ("
                + e.cls().getName()
                + "): expected "
                + expected
                + " but the record is "
                + actual);
      }
    }
    assertTrue(
        problems.isEmpty(),
        "contract records changed: "
            + BUMP
            + ", then update FINGERPRINTS in this test.\n  "
            + String.join("\n  ", problems));
  }

  @Test
  void fingerprintSeesNestedRecordsAndGenerics() {
    // Guards the helper itself: a shape change inside a nested record must show.
    List<String> f = fields(AgentEvents.HostReport.class);
    assertTrue(f.contains("instances:List<InstanceReport>"), f.toString());
    assertTrue(f.contains("instances.memoryMb:long"), f.toString());
    assertTrue(
        fields(SchedulerMessages.Destinations.class).contains("rejected:Map<String,String>"));
  }

  private static List<String> fields(Class<?> record) {
    List<String> out = new ArrayList<>();
    collect("", record, out);
    out.sort(null);
    return out;
  }

  private static void collect(String prefix, Class<?> record, List<String> out) {
    for (RecordComponent c : record.getRecordComponents()) {
      Type t = c.getGenericType();
      out.add(prefix + c.getName() + ":" + typeName(t));
      for (Class<?> nested : recordsIn(t)) {
        collect(prefix + c.getName() + ".", nested, out);
      }
    }
  }

  private static List<Class<?>> recordsIn(Type t) {
    List<Class<?>> out = new ArrayList<>();
    if (t instanceof Class<?> c && c.isRecord()) {
      out.add(c);
    } else if (t instanceof ParameterizedType p) {
      for (Type a : p.getActualTypeArguments()) out.addAll(recordsIn(a));
    }
    return out;
  }

  private static String typeName(Type t) {
    if (t instanceof Class<?> c) return c.getSimpleName();
    if (t instanceof ParameterizedType p) {
      return typeName(p.getRawType())
          + Arrays.stream(p.getActualTypeArguments())
              .map(ContractGoldenTest::typeName)
              .collect(Collectors.joining(",", "<", ">"));
    }
    return t.getTypeName();
  }

  // ------------------------------------------------------------------ invalid inputs

  @Test
  void missingIdIsRejected() {
    assertInvalid(edit("start_migration", o -> o.remove("id")), "id");
    assertInvalid(edit("start_migration", o -> o.put("id", " ")), "id");
  }

  @Test
  void missingPayloadIsRejected() {
    assertInvalid(edit("start_migration", o -> o.remove("payload")), "payload");
    assertInvalid(edit("start_migration", o -> o.put("payload", "not an object")), "malformed");
  }

  @Test
  void missingTypeOrSenderIsRejected() {
    assertInvalid(edit("start_migration", o -> o.remove("type")), "type");
    assertInvalid(edit("start_migration", o -> o.remove("sender")), "sender");
    assertInvalid(
        edit("start_migration", o -> o.put("sender", new JsonObject().put("service", "x"))),
        "malformed");
  }

  @Test
  void malformedHeaderFieldsAreRejected() {
    assertInvalid(edit("migration_progress", o -> o.put("seq", "seventeen")), "seq");
    assertInvalid(edit("migration_progress", o -> o.put("version", "1")), "malformed");
  }

  @Test
  void unknownTypeIsRejected() {
    assertInvalid(edit("start_migration", o -> o.put("type", "teleport_instance")), "unknown");
  }

  @ParameterizedTest(name = "{0} v{1}")
  @MethodSource("registered")
  void versionNewerThanTheReaderIsRejected(String type, int version) {
    JsonObject json = golden(type, version).put("version", version + 1);
    InvalidMessageException e = assertInvalid(json, "unsupported version " + (version + 1));
    assertTrue(e.getMessage().contains(type), e.getMessage());
  }

  @ParameterizedTest(name = "{0} v{1}")
  @MethodSource("registered")
  void versionTwoBehindTheReaderIsRejected(String type, int version) {
    // Readers take the current and the previous version only. While a type is at version 1,
    // "two behind" is -1, which the envelope itself refuses.
    assertInvalid(golden(type, version).put("version", version - 2), "version");
  }

  @Test
  void versionZeroIsRejectedByTheEnvelopeAndVersionTwoByTheRegistry() {
    JsonObject v0 = golden("start_migration", 1).put("version", 0);
    InvalidMessageException e0 =
        assertThrows(InvalidMessageException.class, () -> Envelope.fromJson(v0));
    assertTrue(e0.getMessage().contains("envelope.version"), e0.getMessage());
    JsonObject noVersion = golden("start_migration", 1);
    noVersion.remove("version");
    assertThrows(InvalidMessageException.class, () -> Envelope.fromJson(noVersion));

    Envelope v2 = Envelope.fromJson(golden("start_migration", 1).put("version", 2));
    InvalidMessageException e2 =
        assertThrows(InvalidMessageException.class, () -> Contracts.decode(v2));
    assertTrue(e2.getMessage().contains("unsupported version 2"), e2.getMessage());
  }

  @Test
  void wrongFieldTypesAreRejected() {
    assertInvalid(
        payloadEdit("prepare_destination", p -> p.put("memoryMb", "a lot")), "PrepareDestination");
    assertInvalid(
        payloadEdit("prepare_destination", p -> p.put("vcpus", "four")), "PrepareDestination");
    assertInvalid(
        payloadEdit("migration_progress", p -> p.put("elapsedMs", new JsonObject())),
        "MigrationProgress");
    assertInvalid(
        payloadEdit("select_destinations", p -> p.put("ignoreHosts", new JsonObject())),
        "SelectDestinations");
  }

  @Test
  void negativeByteCountsAreRejected() {
    for (String field :
        List.of(
            "memoryTotalBytes",
            "memoryProcessedBytes",
            "memoryRemainingBytes",
            "diskTotalBytes",
            "diskProcessedBytes",
            "diskRemainingBytes")) {
      assertInvalid(payloadEdit("migration_progress", p -> p.put(field, -1L)), field);
    }
    assertInvalid(payloadEdit("prepare_destination", p -> p.put("memoryMb", -1)), "memoryMb");
    assertInvalid(payloadEdit("select_destinations", p -> p.put("diskGb", -40)), "diskGb");
    JsonObject badInstance = golden("host_report", 3);
    badInstance
        .getJsonObject("payload")
        .getJsonArray("instances")
        .getJsonObject(0)
        .put("memoryMb", -8192);
    assertInvalid(badInstance, "memoryMb");
  }

  static Stream<String> typesWithInstanceUuid() {
    return new TreeMap<>(Contracts.all())
        .values().stream()
            .filter(
                e ->
                    Arrays.stream(e.cls().getRecordComponents())
                        .anyMatch(c -> c.getName().equals("instanceUuid")))
            .map(Contracts.Entry::type);
  }

  @ParameterizedTest
  @MethodSource("typesWithInstanceUuid")
  void blankOrMissingInstanceUuidIsRejected(String type) {
    assertInvalid(payloadEdit(type, p -> p.put("instanceUuid", "   ")), "instanceUuid");
    assertInvalid(payloadEdit(type, p -> p.put("instanceUuid", "")), "instanceUuid");
    assertInvalid(payloadEdit(type, p -> p.remove("instanceUuid")), "instanceUuid");
  }

  @Test
  void failedStepResultNeedsAReason() {
    assertInvalid(payloadEdit("step_result", p -> p.putNull("reason")), "reason");
    assertInvalid(payloadEdit("step_result", p -> p.remove("reason")), "reason");
    assertThrows(InvalidMessageException.class, () -> StepResult.failed("prepare", null, "x"));
    // A successful step needs none.
    Message ok =
        decode(
            payloadEdit(
                "step_result",
                p -> p.put("ok", true).putNull("reason").putNull("message").remove("details")));
    assertEquals(StepResult.ok("prepare"), ok);
  }

  @Test
  void nullForAPrimitiveIsRejected() {
    // The reason names the record; Json.fromJson keeps only the first line of Jackson's message,
    // which drops the field path (see the report).
    assertInvalid(
        payloadEdit("prepare_destination", p -> p.putNull("vcpus")), "PrepareDestination");
    assertInvalid(
        payloadEdit("migration_progress", p -> p.putNull("iteration")), "MigrationProgress");
    assertInvalid(payloadEdit("step_result", p -> p.putNull("ok")), "StepResult");
    assertInvalid(payloadEdit("start_migration", p -> p.putNull("postCopy")), "StartMigration");
  }

  @Test
  void missingPrimitiveIsRejected() {
    // Json's mapper promises "a missing or null primitive is a malformed message, not a zero".
    assertInvalid(payloadEdit("prepare_destination", p -> p.remove("vcpus")), "PrepareDestination");
  }

  @Test
  void payloadHoldingVertxJsonTypesDecodes() {
    // A payload built with JsonArray/JsonObject values (or deep-copied with JsonObject.copy())
    // is the same JSON as one parsed from the wire and must decode the same way.
    JsonObject parsed = golden("select_destinations", 1);
    Message expected = decode(parsed);
    assertEquals(expected, decode(golden("select_destinations", 1).copy()));
  }

  @Test
  void otherConstraintsAreEnforced() {
    assertInvalid(payloadEdit("force_complete", p -> p.put("mode", "teleport")), "mode");
    assertInvalid(payloadEdit("start_migration", p -> p.put("maxDowntimeMs", 0)), "maxDowntimeMs");
    assertInvalid(payloadEdit("abort_migration", p -> p.putNull("reason")), "reason");
    assertInvalid(payloadEdit("service_heartbeat", p -> p.put("host", "")), "host");
  }

  @Test
  void unknownPayloadFieldsAreIgnoredForForwardCompatibility() {
    JsonObject json =
        payloadEdit("cleanup_source", p -> p.put("addedInALaterMinorRelease", new JsonArray()));
    Message m = decode(json);
    assertEquals(
        new AgentCommands.CleanupSource("9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a", "compute-2"), m);
  }

  // ------------------------------------------------------------------ helpers

  private static Message decode(JsonObject json) {
    return Contracts.decode(Envelope.fromJson(json));
  }

  private static InvalidMessageException assertInvalid(JsonObject json, String mentions) {
    InvalidMessageException e =
        assertThrows(
            InvalidMessageException.class,
            () -> decode(json),
            "expected InvalidMessageException for " + json.encode());
    assertNotNull(e.getMessage());
    assertFalse(e.getMessage().isBlank());
    assertTrue(
        e.getMessage().contains(mentions),
        "reason should mention '" + mentions + "': " + e.getMessage());
    return e;
  }

  private static JsonObject edit(String type, Consumer<JsonObject> change) {
    JsonObject o = golden(type, Contracts.all().get(type).version());
    change.accept(o);
    return o;
  }

  private static JsonObject payloadEdit(String type, Consumer<JsonObject> change) {
    return edit(type, o -> change.accept(o.getJsonObject("payload")));
  }

  private static JsonObject golden(String type, int version) {
    String name = "/contracts/" + type + ".v" + version + ".json";
    try (InputStream in = ContractGoldenTest.class.getResourceAsStream(name)) {
      assertNotNull(in, "golden sample " + name + " is missing");
      return new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new AssertionError("cannot read " + name, e);
    }
  }

  private static Path contractsDir() throws URISyntaxException {
    URL dir = ContractGoldenTest.class.getResource("/contracts");
    assertNotNull(dir, "/contracts is not on the test classpath");
    return Path.of(dir.toURI());
  }
}
