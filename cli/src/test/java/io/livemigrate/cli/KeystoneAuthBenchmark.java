package io.livemigrate.cli;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * What Keystone token validation adds to an API call once the token is cached ({@code
 * bench/keystone-auth.sh}): a real Keystone ({@link KeystoneFixture}), the all-in-one with {@code
 * [keystone_authtoken]} set up by {@code livemigrate setup keystone}, and the same request ({@code
 * GET /v2.1/servers/<id>} as an admin) sent alternately with the admin token (the token file path,
 * asked first) and with a Keystone token (a miss there, then the Keystone cache), N times each
 * after a warm-up. Prints p50/p90/p99 of both and the difference, plus the first, uncached
 * validation of a few fresh tokens. Prints figures; not a test. {@code N} changes the count.
 */
public final class KeystoneAuthBenchmark {
  private KeystoneAuthBenchmark() {}

  public static void main(String[] args) throws Exception {
    int n = Integer.parseInt(System.getenv().getOrDefault("N", "5000"));
    String vm = "d1df1b5a-70c4-4fed-98b7-423362f2c47c";
    try (KeystoneFixture keystone = KeystoneFixture.start()) {
      String adminProject =
          keystone
              .admin("GET", "/projects?name=admin", null, 200)
              .getJsonArray("projects")
              .getJsonObject(0)
              .getString("id");
      keystone.createUser("bench-admin", "pw", adminProject, "admin");
      Map<String, String> c = KeystoneE2ETest.keystoneConfig(keystone, "svc-pw", 300);
      try (ApiCloud cloud =
          ApiCloud.start(
              List.of(
                  new AllInOne.HostSpec(
                      "HostA",
                      ApiCloud.capacity(),
                      List.of(ApiCloud.guest(vm, "vm1", "p1", 512, 0, 0)))),
              c)) {
        KeystoneE2ETest.setupKeystone(keystone, cloud.endpoint, "svc-pw");
        HttpClient http =
            HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        URI uri = URI.create(cloud.endpoint + "/servers/" + vm);
        String local = ApiCloud.ADMIN;
        // Uncached: the first call with each of a few fresh tokens.
        List<Long> firsts = new ArrayList<>();
        String cached = null;
        for (int i = 0; i < 10; i++) {
          String t = keystone.token("bench-admin", "pw", "admin");
          firsts.add(time(http, uri, t));
          cached = t;
        }
        for (int i = 0; i < 2000; i++) {
          time(http, uri, local);
          time(http, uri, cached);
        }
        long[] a = new long[n];
        long[] k = new long[n];
        for (int i = 0; i < n; i++) {
          // Alternate, so drift of a loaded machine hits both alike.
          a[i] = time(http, uri, local);
          k[i] = time(http, uri, cached);
        }
        Arrays.sort(a);
        Arrays.sort(k);
        long[] f = firsts.stream().mapToLong(Long::longValue).sorted().toArray();
        System.out.printf(
            "%nGET /v2.1/servers/<id>, %d calls each, alternating, one HTTP/1.1 connection%n", n);
        System.out.printf(
            "  admin token (token file path):  p50 %s  p90 %s  p99 %s%n",
            ms(p(a, 50)), ms(p(a, 90)), ms(p(a, 99)));
        System.out.printf(
            "  Keystone token, cached:          p50 %s  p90 %s  p99 %s%n",
            ms(p(k, 50)), ms(p(k, 90)), ms(p(k, 99)));
        System.out.printf(
            "  added by Keystone validation:    p50 %s  p90 %s  (target <= 2 ms p50)%n",
            ms(p(k, 50) - p(a, 50)), ms(p(k, 90) - p(a, 90)));
        System.out.printf(
            "  first call of a fresh token (asks Keystone), %d tokens: p50 %s  max %s%n",
            f.length, ms(p(f, 50)), ms(f[f.length - 1]));
      }
    }
    System.exit(0);
  }

  private static long time(HttpClient http, URI uri, String token) throws Exception {
    HttpRequest req =
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(10))
            .header("X-Auth-Token", token)
            .GET()
            .build();
    long t0 = System.nanoTime();
    HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
    long took = System.nanoTime() - t0;
    if (r.statusCode() != 200) throw new IllegalStateException(r.statusCode() + " " + r.body());
    return took;
  }

  private static long p(long[] sorted, int pct) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(pct / 100.0 * sorted.length) - 1)];
  }

  private static String ms(long nanos) {
    return String.format("%.3f ms", nanos / 1e6);
  }
}
