package io.livemigrate.cli.faults;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.Map;

/** What a scenario's verdict asks of the deployment under test. */
interface Cloud {
  /** The API's latest migration of an instance, or null. */
  JsonObject latest(String instanceUuid);

  /** The API's view of the server. */
  JsonObject server(String instanceUuid);

  /** Where each hypervisor says the instance is (host to state). */
  Map<String, String> runsOn(String instanceUuid);

  /** The directory holding every service's log ({@code *.log}). */
  Path logDir();
}
