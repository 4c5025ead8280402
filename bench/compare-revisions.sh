#!/usr/bin/env bash
# Before/after on one machine, in one run: builds two revisions in temporary worktrees and alternates their loads
# (MQTT QoS 0 and 1 over TCP without a subscriber, then the HTTP LoadBench), so that a shared, noisy machine hurts
# both sides alike. Figures are medians over the pairs; compare ratios, not absolute numbers.
#   bench/compare-revisions.sh BEFORE [AFTER=HEAD] [PAIRS=3]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
before="${1:?usage: bench/compare-revisions.sh BEFORE [AFTER] [PAIRS]}"
after="${2:-HEAD}"
pairs="${3:-3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/plexus-compare-revisions.XXXXXX")"
trap 'git -C "$root" worktree remove --force "$work/before" >/dev/null 2>&1 || true; git -C "$root" worktree remove --force "$work/after" >/dev/null 2>&1 || true' EXIT

for side in before after; do
  rev="$before"; [ "$side" = after ] && rev="$after"
  git -C "$root" worktree add -q --detach "$work/$side" "$rev"
  echo "== building $side ($(git -C "$work/$side" log --oneline -1))"
  dotnet build "$work/$side/src/Plexus.Cli" -c Release -nologo -clp:ErrorsOnly >/dev/null
  dotnet build "$work/$side/bench/Plexus.LoadBench" -c Release -nologo -clp:ErrorsOnly >/dev/null
done
# One MQTT load generator for both sides (the after side's), so only the server differs.
dotnet build "$work/after/bench/Plexus.MqttBench" -c Release -nologo -clp:ErrorsOnly >/dev/null
mqttbench="$work/after/bench/Plexus.MqttBench/bin/Release/net10.0/Plexus.MqttBench.dll"

for pair in $(seq 1 "$pairs"); do
  for side in before after; do
    echo "== pair $pair: $side"
    dotnet "$mqttbench" --plexus "$work/$side/src/Plexus.Cli/bin/Release/net10.0/plexus" --targets plexus \
      --transport tcp --subscriber none --qos 0,1 --runs 1 --out "$work/mqtt-$side-$pair.json" >"$work/mqtt-$side-$pair.log"
    (cd "$work/$side" && dotnet bench/Plexus.LoadBench/bin/Release/net10.0/Plexus.LoadBench.dll \
      --trucks 200 --hours 1 --writers 1,2 --runs 1 --no-duckdb-floor >"$work/load-$side-$pair.log")
  done
done

python3 - "$work" "$pairs" <<'PY'
import re, statistics, sys
work, pairs = sys.argv[1], int(sys.argv[2])
rows = {}
for side in ("before", "after"):
    for pair in range(1, pairs + 1):
        md = open(f"{work}/mqtt-{side}-{pair}.md").read()
        for qos in ("0", "1"):
            m = re.search(r"^\| " + qos + r" \| Plexus \(stored durably\) \| ([\d,]+) .*?\| [\d.]+ % \| ([\d.]+) /", md, re.M)
            rows.setdefault((f"MQTT QoS {qos} stored msgs/s", side), []).append(float(m.group(1).replace(",", "")))
            rows.setdefault((f"MQTT QoS {qos} server CPU s per 100k msgs", side), []).append(float(m.group(2)))
        log = open(f"{work}/load-{side}-{pair}.log").read()
        for writers in ("1", "2"):
            m = re.search(r"run 1 plexus\s+writers " + writers + r":\s+[\d.]+ s\s+([\d,]+) rows/s", log)
            rows.setdefault((f"HTTP ingest rows/s, {writers} writer(s)", side), []).append(float(m.group(1).replace(",", "")))
print(f"| case | before | after | after ÷ before |\n|---|---:|---:|---:|")
for case in dict.fromkeys(k for k, _ in rows):
    b, a = statistics.median(rows[(case, "before")]), statistics.median(rows[(case, "after")])
    print(f"| {case} | {b:,.2f} | {a:,.2f} | {a / b:.3f} |")
print(f"(medians of {pairs} alternated pairs; logs in {work})")
PY
