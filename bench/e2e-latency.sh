#!/usr/bin/env bash
# End-to-end latency of simulated live migrations through RabbitMQ: from the live-migrate POST to
# the server ACTIVE on the new host, N migrations of vm1 back and forth between HostB and HostC.
# The end is the time the conductor stamped on the completed migration record (updated_at, the
# same clock: one machine), found by a poll every POLL_MS (default 50) that therefore does not
# compete with the work it measures (a 2 ms GET loop is 500 API reads a second on these two
# cores); the poll's own figure is printed too. Prints each time and the median / p90. Needs RabbitMQ on 127.0.0.1:5672 and a built jar
# (mvn -B -q -DskipTests package). TREE=<another checkout> measures that checkout's build instead
# (bench/compare.sh uses it to put two revisions side by side).
set -euo pipefail
cd "$(dirname "$0")/.."
JAR=${TREE:-.}/cli/target/livemigrate.jar
N=${N:-20}
PORT=${PORT:-18774}
TOKEN=bench-$$
WORK=$(mktemp -d)
cat > "$WORK/bench.conf" <<CONF
[DEFAULT]
report_interval = 1
[simulated]
# a fast link: the guest's copy takes milliseconds, so the figure is our own overhead
link_bandwidth_mibps = 1000000
tick_ms = 1
[compute]
progress_interval_ms = 1000
[ops]
port = 19180
CONF
LIVEMIGRATE_ADMIN_TOKEN=$TOKEN java -jar "$JAR" all-in-one \
  --config "$WORK/bench.conf" --api-port "$PORT" --data "$WORK/data" \
  --rabbitmq amqp://guest:guest@127.0.0.1:5672 > "$WORK/aio.log" 2>&1 &
PID=$!
# errexit holds inside the trap too: the killed JVM's status (143) must not become the script's.
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true; [ -n "${KEEP_LOG:-}" ] && cp "$WORK/aio.log" "$KEEP_LOG"; rm -rf "$WORK"' EXIT
E=http://127.0.0.1:$PORT/v2.1
VM=d1df1b5a-70c4-4fed-98b7-423362f2c47c
for _ in $(seq 1 100); do
  curl -sf -H "X-Auth-Token: $TOKEN" "$E/servers/$VM" >/dev/null 2>&1 && break; sleep 0.2
done
python3 - "$E" "$TOKEN" "$VM" "$N" "${POLL_MS:-50}" <<'PY'
import datetime, json, sys, time, urllib.request
E, T, VM, N, POLL = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]) / 1000.0
def call(method, path, body=None, version="2.30"):
    req = urllib.request.Request(E + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"X-Auth-Token": T, "Content-Type": "application/json", "X-OpenStack-Nova-API-Version": version})
    with urllib.request.urlopen(req) as r:
        data = r.read()
        return json.loads(data) if data else None
def server():
    return call("GET", "/servers/" + VM)["server"]
def stamped_ms():
    ms = call("GET", "/os-migrations?instance_uuid=" + VM, version="2.59")["migrations"]
    m = max(ms, key=lambda m: m["id"])
    if m["status"] != "completed":
        sys.exit("migration %s: %s" % (m["id"], m["status"]))
    u = datetime.datetime.strptime(m["updated_at"][:26], "%Y-%m-%dT%H:%M:%S.%f")
    return u.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
times, observed = [], []
for i in range(N):
    src = server()["OS-EXT-SRV-ATTR:host"]
    dst = "HostC" if src == "HostB" else "HostB"
    w0 = time.time() * 1000
    t0 = time.perf_counter()
    call("POST", "/servers/%s/action" % VM, {"os-migrateLive": {"host": dst, "block_migration": False}})
    while True:
        s = server()
        if s["status"] == "ACTIVE" and s["OS-EXT-SRV-ATTR:host"] == dst:
            break
        if s["status"] == "ACTIVE" and s["OS-EXT-SRV-ATTR:host"] == src:
            sys.exit("migration %d failed" % i)
        time.sleep(POLL)
    observed.append((time.perf_counter() - t0) * 1000)
    times.append(stamped_ms() - w0)
    time.sleep(1.2)  # let the hosts' next reports land before the next move
times.sort()
observed.sort()
print("migrations: %d (poll every %d ms)" % (N, POLL * 1000))
print("each (ms): " + " ".join("%.0f" % t for t in times))
print("median: %.1f ms  p90: %.1f ms  min: %.1f ms  max: %.1f ms" % (
    times[len(times) // 2], times[int(len(times) * 0.9) - 1], times[0], times[-1]))
print("seen by the poll: median %.1f ms  p90 %.1f ms" % (
    observed[len(observed) // 2], observed[int(len(observed) * 0.9) - 1]))
PY
