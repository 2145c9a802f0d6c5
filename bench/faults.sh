#!/usr/bin/env bash
# The fault-injection harness: every scenario against separate processes (conductors, scheduler,
# simulated compute agents; the all-in-one) on the real RabbitMQ at 127.0.0.1:5672 and a
# PostgreSQL of its own (the machine's binaries, a temporary data directory, a free port; run as
# root: it starts that server as the postgres user). Prints the table docs/faults.md shows.
#
#   bench/faults.sh                                  # every scenario, 5 runs each
#   RUNS=1 ONLY=postgres-restart bench/faults.sh
#   ONLY=two-conductors-kill MIGRATIONS=200 bench/faults.sh
#   TESTBED=1 bench/faults.sh                        # the agent faults on the libvirt testbed
#   TESTBED=1 RUNS=1 ONLY=tb-source-link-cut-30s bench/faults.sh
#
# TESTBED=1 needs root and the two-host testbed (deploy/testbed/testbed.sh install); it brings the
# testbed up and down itself, under the lock the libvirt tests take.
set -euo pipefail
cd "$(dirname "$0")/.."
# Through the reactor (nothing is installed into ~/.m2); the sweep is a JUnit entry that the
# default build never runs (FaultHarnessBench), so it shares the tests' classpath.
BENCH=FaultHarnessBench TABLE=cli/target/faults.md
[ -n "${TESTBED:-}" ] && BENCH=LibvirtFaultsBench TABLE=cli/target/faults-testbed.md
mvn -B -ntp -pl cli -am test -Dtest=$BENCH -Dsurefire.failIfNoSpecifiedTests=false \
  -Dfaults.runs="${RUNS:-5}" -Dfaults.migrations="${MIGRATIONS:-200}" -Dfaults.only="${ONLY:-}" \
  | grep -E '^\[(INFO|ERROR)\] (Tests run|BUILD)' || true
echo
cat "$TABLE"
grep -h '^\[faults\]' cli/target/surefire-reports/*"$BENCH"-output.txt || true
