#!/usr/bin/env bash
# The bus fault sweep of issue 13 (acceptance 3): close_all_connections while handlers run and a
# broker restart mid-migration, RUNS times each (default 10), against a private RabbitMQ node on
# a free loopback port (never the shared one); conductor and scheduler as separate processes. Prints a
# table (scenario, run, terminal state, seconds, correct, commands sent/handled, stale deliveries).
#   bench/bus-faults.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
mvn -B -q -ntp -pl cli -am test -Dtest=BusFaultsTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dlivemigrate.faults.runs="$runs" || status=$?
sed -n '/^BusFaultsTest (/,/^$/p' cli/target/surefire-reports/io.livemigrate.cli.BusFaultsTest-output.txt
exit "${status:-0}"
