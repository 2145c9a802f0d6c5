#!/usr/bin/env bash
# One conductor (with its API) in its own JVM, -Xmx512m, holding N concurrent live migrations that
# report progress every second; the scheduler and the simulated compute hosts run in a second JVM
# (the load driver, io.livemigrate.cli.bench.ConductorLoadBenchmark). Prints the conductor's CPU
# (cores, from /proc/<pid>/stat), its heap, and the delay from an agent's progress sample to the
# API showing it (p50/p99). Needs RabbitMQ on 127.0.0.1:5672 and a built tree
# (mvn -B -q -DskipTests package); the driver runs from the reactor's own classes, nothing is
# installed. TREE=<another checkout> measures that checkout's build instead (bench/compare.sh).
# The store is the default H2 file, in a temporary directory.
#
#   N=1000 HOSTS=20 QUIET=30 WINDOW=60 POLL_MS=100 SAMPLE=20 bench/conductor-load.sh
#
# CONDUCTOR_JAVA_OPTS adds options to the conductor's JVM, e.g. a flight recording:
#   CONDUCTOR_JAVA_OPTS=-XX:StartFlightRecording=filename=/tmp/c.jfr,settings=profile
set -euo pipefail
cd "$(dirname "$0")/.."
TREE=$(cd "${TREE:-.}" && pwd)
export N=${N:-1000} HOSTS=${HOSTS:-20} QUIET=${QUIET:-30} WINDOW=${WINDOW:-60}
export POLL_MS=${POLL_MS:-100} SAMPLE=${SAMPLE:-20}
RABBIT=${RABBIT:-amqp://guest:guest@127.0.0.1:5672}
TOKEN=bench-$$-$RANDOM
NS=lmbench$$
WORK=$(mktemp -d)
CPID=
cleanup() {
  if [ -n "$CPID" ] && kill -0 "$CPID" 2>/dev/null; then
    kill "$CPID" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$CPID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cat > "$WORK/bench.conf" <<CONF
[DEFAULT]
transport_url = $RABBIT
bus_namespace = $NS
# no per-host limit on outbound live migrations (Nova's default is 1)
max_concurrent_live_migrations = 0
max_concurrent_inbound_live_migrations = 0
[scheduler]
max_concurrent_live_migrations = 0
[compute]
progress_interval_ms = 1000
[simulated]
# 2 GiB guests on 1 MiB/s: each migration copies for about 34 minutes
link_bandwidth_mibps = 1
tick_ms = 200
[conductor]
store_url = jdbc:h2:file:$WORK/store/livemigrate
[api]
port = 0
[ops]
port = 0
CONF
CPU_PIN=()
command -v taskset >/dev/null && CPU_PIN=(taskset -c 0,1)
LIVEMIGRATE_ADMIN_TOKEN=$TOKEN "${CPU_PIN[@]}" java -Xmx512m ${CONDUCTOR_JAVA_OPTS:-} -jar "$TREE/cli/target/livemigrate.jar" \
  serve conductor --config "$WORK/bench.conf" > "$WORK/conductor.log" 2>&1 &
CPID=$!
for _ in $(seq 1 120); do
  grep -q "conductor: API on port" "$WORK/conductor.log" && break
  kill -0 "$CPID" 2>/dev/null || { cat "$WORK/conductor.log"; exit 1; }
  sleep 0.5
done
LINE=$(grep "conductor: API on port" "$WORK/conductor.log")
API_PORT=$(sed -E 's/.*API on port ([0-9]+).*/\1/' <<<"$LINE")
OPS_PORT=$(sed -E 's/.*metrics on ([0-9]+).*/\1/' <<<"$LINE")
echo "conductor: pid $CPID, -Xmx512m, ${CPU_PIN[*]:-not pinned}, API :$API_PORT, metrics :$OPS_PORT, namespace $NS"
export LM_CONFIG=$WORK/bench.conf LM_API=http://127.0.0.1:$API_PORT/v2.1 LM_TOKEN=$TOKEN
export LM_METRICS=http://127.0.0.1:$OPS_PORT/metrics LM_PID=$CPID
# The services' log lines (stderr) go to a file; the figures to stdout.
RC=0
# The driver's classpath from the reactor (sibling modules as their target/classes): no install.
(cd "$TREE" && mvn -B -q -ntp -pl cli -am test-compile dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath) > "$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; exit 1; }
CP="$TREE/cli/target/test-classes:$TREE/cli/target/classes:$(cat "$TREE/cli/target/bench.classpath")"
(cd "$TREE" && java -cp "$CP" io.livemigrate.cli.bench.ConductorLoadBenchmark) 2> "$WORK/driver.log" || RC=$?
[ "$RC" = 0 ] || { echo "driver failed ($RC); its last log lines:"; tail -30 "$WORK/driver.log"; }
if [ -n "${KEEP_LOGS:-}" ]; then cp "$WORK/conductor.log" "$WORK/driver.log" "$KEEP_LOGS"/ 2>/dev/null || true; fi
echo "conductor log: $(grep -c . "$WORK/conductor.log" 2>/dev/null || true) lines, $(grep -c -E ' (WARN|ERROR) ' "$WORK/conductor.log" 2>/dev/null || true) WARN/ERROR"
exit "$RC"
