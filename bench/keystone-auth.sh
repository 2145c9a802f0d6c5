#!/usr/bin/env bash
# What Keystone token validation adds to an API call once the token is cached: a real Keystone
# (Debian's keystone + uwsgi-plugin-python3, as .ci/run installs them) and the all-in-one in one
# JVM; prints p50/p90/p99 of the same call with the admin token and with a cached Keystone token.
# Needs RabbitMQ on 127.0.0.1:5672 or falls back to the embedded broker. N=5000 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
# Builds through the reactor (nothing is installed into ~/.m2) and writes the cli module's test
# classpath, which then points at the sibling modules' jars in their target/ directories.
mvn -B -q -ntp -pl cli -am -DskipTests package dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.cp
exec java -Dorg.slf4j.simpleLogger.logFile=cli/target/keystone-bench-services.log \
  -cp "cli/target/test-classes:cli/target/classes:$(cat cli/target/bench.cp)" \
  io.livemigrate.cli.KeystoneAuthBenchmark
