#!/usr/bin/env bash
# This checkout against another revision, side by side in one sitting: builds REV (default: main)
# in a temporary worktree, then runs bench/e2e-latency.sh and bench/conductor-load.sh for both,
# interleaved ROUNDS times (old, new, old, new, ...) so that the machine's load drifts over both
# alike, and prints each figure and the new/old ratio of the medians.
#
#   REV=199ee86 ROUNDS=2 N=20 bench/compare.sh
#
# N is the e2e run's migrations; the conductor benchmark keeps its own sizes (LOAD_N, default
# 1000 migrations), whatever N says.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${REV:-main}
ROUNDS=${ROUNDS:-2}
OLD=$(mktemp -d /tmp/lm-compare.XXXXXX)
trap 'git worktree remove --force "$OLD" >/dev/null 2>&1 || rm -rf "$OLD"' EXIT
git worktree add -q --detach "$OLD" "$REV"
echo "building $REV in $OLD and this checkout ($(git rev-parse --short HEAD))"
(cd "$OLD" && mvn -B -q -ntp -DskipTests package) > "$OLD/build.log" 2>&1 || { tail -20 "$OLD/build.log"; exit 1; }
mvn -B -q -ntp -DskipTests package > /dev/null
OUT=$(mktemp -d)
# The all-in-one uses the default bus namespace, whose queues and exchanges the two revisions may
# declare differently (classic queues became quorum ones, a direct exchange a topic one): remove
# them before each side's run.
reset_exchanges() {
  command -v rabbitmqctl >/dev/null || return 0
  for q in $(rabbitmqctl -q list_queues name 2>/dev/null | grep '^livemigrate\.'); do
    rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true
  done
  for x in commands events notifications parking unroutable; do
    rabbitmqctl eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"livemigrate.$x\">>), false, <<\"compare\">>)." >/dev/null 2>&1 || true
  done
}
for r in $(seq 1 "$ROUNDS"); do
  for side in old new; do
    tree=.; [ "$side" = old ] && tree=$OLD
    echo "round $r, $side: e2e latency" >&2
    reset_exchanges
    TREE=$tree N=${N:-20} bash bench/e2e-latency.sh > "$OUT/e2e-$side-$r.txt"
    echo "round $r, $side: conductor load" >&2
    TREE=$tree N=${LOAD_N:-1000} bash bench/conductor-load.sh > "$OUT/load-$side-$r.txt" || true
  done
done
python3 - "$OUT" "$ROUNDS" "$REV" <<'PY'
import re, statistics, sys, pathlib
out, rounds, rev = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def nums(pattern, side, kind):
    vals = []
    for r in range(1, rounds + 1):
        m = re.search(pattern, (out / f"{kind}-{side}-{r}.txt").read_text())
        if m: vals.append(float(m.group(1)))
    return vals
rows = [
    ("e2e median (ms)", r"median: ([\d.]+) ms", "e2e"),
    ("e2e p90 (ms)", r"p90: ([\d.]+) ms", "e2e"),
    ("conductor CPU, no reader (cores)", r"no API reader:\s+mean ([\d.]+) cores", "load"),
    ("conductor CPU, polled (cores)", r"while polling:\s+mean ([\d.]+) cores", "load"),
    ("conductor heap after GC (MiB)", r"MiB during the run \(5 s samples\), ([\d.]+) MiB", "load"),
    ("progress in API p50 (ms)", r"upper bound \(response received\): p50 ([\d.]+) ms", "load"),
    ("progress in API p99 (ms)", r"upper bound \(response received\): p50 [\d.]+ ms\s+p90 [\d.]+ ms\s+p99 ([\d.]+) ms", "load"),
]
print(f"| figure | {rev} (old) | this checkout (new) | new/old |")
print("|---|---|---|---|")
for name, pat, kind in rows:
    o, n = nums(pat, "old", kind), nums(pat, "new", kind)
    if not o or not n:
        print(f"| {name} | {o or 'n/a'} | {n or 'n/a'} | n/a |"); continue
    mo, mn = statistics.median(o), statistics.median(n)
    print(f"| {name} | {mo:.2f} ({', '.join('%.1f' % x for x in o)}) | {mn:.2f} ({', '.join('%.1f' % x for x in n)}) | {mn / mo:.2f} |")
print()
for f in sorted(out.iterdir()):
    print(f"--- {f.name}"); print(f.read_text().strip())
PY
