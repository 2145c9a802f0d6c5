package io.livemigrate.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code livemigrate setup keystone}: makes a Keystone ready for the API, through Keystone's v3
 * REST API with an admin's credentials: the service project, the API's service user (with a role on
 * that project, so it may validate tokens), and a service with public, internal and admin endpoints
 * in the catalog. Idempotent: what exists is left as it is (an endpoint URL or the user's password
 * that differs is updated), so running it twice changes nothing the second time. The {@code setup}
 * group itself is {@link SetupCommand}.
 */
final class SetupKeystone {
  private SetupKeystone() {}

  @Command(
      name = "keystone",
      mixinStandardHelpOptions = true,
      description =
          "Create the API's service user and project and register the API in Keystone's catalog"
              + " (idempotent). Admin credentials from the options or OS_* variables.")
  static final class Keystone implements Callable<Integer> {
    @Option(names = "--os-auth-url", description = "Keystone URL (default: $OS_AUTH_URL)")
    String authUrl = System.getenv("OS_AUTH_URL");

    @Option(names = "--os-username", description = "admin user (default: $OS_USERNAME)")
    String username = System.getenv("OS_USERNAME");

    @Option(names = "--os-password", description = "admin password (default: $OS_PASSWORD)")
    String password = System.getenv("OS_PASSWORD");

    @Option(names = "--os-project-name", description = "admin project (default: $OS_PROJECT_NAME)")
    String projectName = System.getenv("OS_PROJECT_NAME");

    @Option(names = "--os-user-domain-name", description = "default: $OS_USER_DOMAIN_NAME, Default")
    String userDomain = env("OS_USER_DOMAIN_NAME", "Default");

    @Option(
        names = "--os-project-domain-name",
        description = "default: $OS_PROJECT_DOMAIN_NAME, Default")
    String projectDomain = env("OS_PROJECT_DOMAIN_NAME", "Default");

    @Option(names = "--os-region-name", description = "default: $OS_REGION_NAME, RegionOne")
    String region = env("OS_REGION_NAME", "RegionOne");

    @Option(
        names = "--service-user",
        description = "the API's service user (default ${DEFAULT-VALUE})",
        defaultValue = "livemigrate")
    String serviceUser;

    @Option(
        names = "--service-password",
        description = "its password (default: $LIVEMIGRATE_SERVICE_PASSWORD)")
    String servicePassword = System.getenv("LIVEMIGRATE_SERVICE_PASSWORD");

    @Option(
        names = "--service-project",
        description = "project of service users (default ${DEFAULT-VALUE})",
        defaultValue = "service")
    String serviceProject;

    @Option(
        names = "--service-domain",
        description = "domain of the service user and project (default ${DEFAULT-VALUE})",
        defaultValue = "Default")
    String serviceDomain;

    @Option(
        names = "--service-role",
        description =
            "role of the service user on its project; Keystone lets it validate tokens"
                + " (default ${DEFAULT-VALUE}, as Nova's install guide)",
        defaultValue = "admin")
    String serviceRole;

    @Option(
        names = "--service-type",
        description =
            "catalog type: compute (the stock clients find us; a cloud where we are the compute"
                + " API) or one of our own beside Nova, e.g. live-migration (default"
                + " ${DEFAULT-VALUE})",
        defaultValue = "compute")
    String serviceType;

    @Option(
        names = "--service-name",
        description = "catalog name (default ${DEFAULT-VALUE})",
        defaultValue = "livemigrate")
    String serviceName;

    @Option(
        names = "--public-url",
        required = true,
        description = "the API's public endpoint, e.g. http://controller:8774/v2.1")
    String publicUrl;

    @Option(names = "--internal-url", description = "default: the public URL")
    String internalUrl;

    @Option(names = "--admin-url", description = "default: the public URL")
    String adminUrl;

    PrintStream out = System.out;
    PrintStream err = System.err;

    private KeystoneClient keystone;

    private static String env(String name, String def) {
      String v = System.getenv(name);
      return v == null || v.isBlank() ? def : v;
    }

    @Override
    public Integer call() {
      List<String> missing = new ArrayList<>();
      if (blank(authUrl)) missing.add("--os-auth-url / OS_AUTH_URL");
      if (blank(username)) missing.add("--os-username / OS_USERNAME");
      if (blank(password)) missing.add("--os-password / OS_PASSWORD");
      if (blank(projectName)) missing.add("--os-project-name / OS_PROJECT_NAME");
      if (blank(servicePassword)) {
        missing.add("--service-password / LIVEMIGRATE_SERVICE_PASSWORD");
      }
      if (!missing.isEmpty()) {
        err.println("missing: " + String.join(", ", missing));
        return 2;
      }
      keystone = new KeystoneClient(authUrl, out);
      try {
        run();
        return 0;
      } catch (SetupError e) {
        err.println(e.getMessage());
        return 1;
      }
    }

    private static boolean blank(String s) {
      return s == null || s.isBlank();
    }

    private void run() {
      keystone.login(username, password, userDomain, projectName, projectDomain);
      String domainId =
          keystone.findOne("domains", Map.of("name", serviceDomain), "domain").getString("id");
      JsonObject project =
          keystone.ensure(
              "projects",
              "project",
              Map.of("name", serviceProject, "domain_id", domainId),
              new JsonObject()
                  .put("name", serviceProject)
                  .put("domain_id", domainId)
                  .put("description", "Service users"));
      JsonObject user =
          keystone.ensure(
              "users",
              "user",
              Map.of("name", serviceUser, "domain_id", domainId),
              new JsonObject()
                  .put("name", serviceUser)
                  .put("domain_id", domainId)
                  .put("password", servicePassword)
                  .put("description", "livemigrate API: validates tokens"));
      if (!passwordWorks()) {
        keystone.call(
            "PATCH",
            "/users/" + user.getString("id"),
            new JsonObject().put("user", new JsonObject().put("password", servicePassword)),
            200);
        out.println("user " + serviceUser + ": password updated");
      }
      String roleId =
          keystone.findOne("roles", Map.of("name", serviceRole), "role").getString("id");
      keystone.call(
          "PUT",
          "/projects/"
              + project.getString("id")
              + "/users/"
              + user.getString("id")
              + "/roles/"
              + roleId,
          null,
          204);
      out.println(
          "role " + serviceRole + ": " + serviceUser + " has it on project " + serviceProject);
      if (keystone
              .call("GET", "/regions/" + KeystoneClient.enc(region), null, 200, 404)
              .getInteger("status")
          == 404) {
        keystone.call(
            "POST",
            "/regions",
            new JsonObject().put("region", new JsonObject().put("id", region)),
            201);
        out.println("region " + region + ": created");
      }
      JsonObject service = ensureService();
      String sid = service.getString("id");
      Map<String, String> urls = new LinkedHashMap<>();
      urls.put("public", publicUrl);
      urls.put("internal", blank(internalUrl) ? publicUrl : internalUrl);
      urls.put("admin", blank(adminUrl) ? publicUrl : adminUrl);
      for (var e : urls.entrySet()) ensureEndpoint(sid, e.getKey(), e.getValue());
      out.println();
      out.println("The conductor's configuration:");
      out.println("[keystone_authtoken]");
      out.println("www_authenticate_uri = " + authUrl);
      out.println("auth_url = " + authUrl);
      out.println("auth_type = password");
      out.println("username = " + serviceUser);
      out.println("password = <the service password>");
      out.println("project_name = " + serviceProject);
      out.println("user_domain_name = " + serviceDomain);
      out.println("project_domain_name = " + serviceDomain);
    }

    private JsonObject ensureService() {
      JsonArray all =
          keystone
              .call("GET", "/services?type=" + KeystoneClient.enc(serviceType), null, 200)
              .getJsonObject("body")
              .getJsonArray("services");
      JsonObject mine = null;
      List<String> others = new ArrayList<>();
      for (Object o : all) {
        JsonObject s = (JsonObject) o;
        if (serviceName.equals(s.getString("name"))) mine = s;
        else others.add(s.getString("name"));
      }
      if (!others.isEmpty()) {
        // Two services of one type: the clients take whichever the catalog lists first.
        err.println(
            "warning: the catalog already has "
                + serviceType
                + " service(s) "
                + others
                + "; the stock clients may use those instead. Register under a type of our own"
                + " (--service-type live-migration) beside Nova, or remove them.");
      }
      if (mine != null) {
        out.println("service " + serviceName + " (" + serviceType + "): exists");
        return mine;
      }
      JsonObject created =
          keystone
              .call(
                  "POST",
                  "/services",
                  new JsonObject()
                      .put(
                          "service",
                          new JsonObject()
                              .put("name", serviceName)
                              .put("type", serviceType)
                              .put("description", "livemigrate: Nova-compatible compute API")
                              .put("enabled", true)),
                  201)
              .getJsonObject("body")
              .getJsonObject("service");
      out.println("service " + serviceName + " (" + serviceType + "): created");
      return created;
    }

    private void ensureEndpoint(String serviceId, String iface, String url) {
      JsonArray found =
          keystone
              .call(
                  "GET",
                  "/endpoints?service_id="
                      + KeystoneClient.enc(serviceId)
                      + "&interface="
                      + iface
                      + "&region_id="
                      + KeystoneClient.enc(region),
                  null,
                  200)
              .getJsonObject("body")
              .getJsonArray("endpoints");
      if (found.isEmpty()) {
        keystone.call(
            "POST",
            "/endpoints",
            new JsonObject()
                .put(
                    "endpoint",
                    new JsonObject()
                        .put("service_id", serviceId)
                        .put("interface", iface)
                        .put("region_id", region)
                        .put("url", url)
                        .put("enabled", true)),
            201);
        out.println("endpoint " + iface + " " + url + ": created");
        return;
      }
      JsonObject e = found.getJsonObject(0);
      if (url.equals(e.getString("url"))) {
        out.println("endpoint " + iface + " " + url + ": exists");
      } else {
        keystone.call(
            "PATCH",
            "/endpoints/" + e.getString("id"),
            new JsonObject().put("endpoint", new JsonObject().put("url", url)),
            200);
        out.println("endpoint " + iface + " " + url + ": updated (was " + e.getString("url") + ")");
      }
    }

    private boolean passwordWorks() {
      try {
        keystone.authenticate(serviceUser, servicePassword, serviceDomain, null, null);
        return true;
      } catch (SetupError e) {
        return false;
      }
    }
  }

  static final class SetupError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    SetupError(String message) {
      super(message);
    }
  }
}
