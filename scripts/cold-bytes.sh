#!/usr/bin/env bash
# Bytes per field value of the same TSBS-IoT data in the hot store (DuckDB tables) and in the cold tier (Parquet),
# and one query's latency over each. See docs/storage.md#hot-and-cold-tiers.
# Usage: scripts/cold-bytes.sh [trucks (default 100)] [duration (default 5h)]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
trucks="${1:-100}"
duration="${2:-5h}"
port=18199
token=cold-bytes-token
work="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

dotnet build "$root/src/Plexus.Cli/Plexus.Cli.csproj" -c Release -v quiet -nologo >/dev/null
plexus="$root/src/Plexus.Cli/bin/Release/net10.0/plexus"
client=(--url "http://127.0.0.1:$port" --token "$token")

serve() {
  "$plexus" serve --data "$work/data" --http "127.0.0.1:$port" --admin-token "$token" --mqtt off --pg off --log-level warning "$@" &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && return; sleep 0.2; done
  echo "plexus serve did not start" >&2; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }
query() { "$plexus" query "${client[@]}" --format csv "$1" | tr -d '\r' | tail -n 1; }
latency() { # median of 5 runs after a warm-up, in ms, of one statement
  query "$1" >/dev/null
  for _ in 1 2 3 4 5; do
    local t0; t0=$(date +%s%N); query "$1" >/dev/null; echo $(( ($(date +%s%N) - t0) / 1000000 ))
  done | sort -n | sed -n 3p
}

"$plexus" simulate --trucks "$trucks" --start 2016-01-01T22:00:00Z --duration "$duration" --seed 1 --out "$work/fleet.lp" >/dev/null
values_sql="SELECT (SELECT count(latitude)+count(longitude)+count(elevation)+count(velocity)+count(heading)+count(grade)+count(fuel_consumption) FROM readings) + (SELECT count(current_load)+count(fuel_state)+count(status) FROM diagnostics)"
probe="SELECT name, avg(velocity) FROM readings WHERE fleet = 'East' GROUP BY name ORDER BY name"

# Hot: every row in DuckDB tables; the file's size after the checkpoint of a clean stop.
serve --compaction false
"$plexus" write "${client[@]}" --batch-size 10000 "$work/fleet.lp" >/dev/null
values=$(query "$values_sql")
hot_ms=$(latency "$probe")
stop
hot_bytes=$(stat -c %s "$work/data/plexus.duckdb")

# Cold: the same data folder, compacted (every partition of 2016 is long closed).
serve --compaction-check-interval 1s --compaction-grace 1s
for _ in $(seq 1 600); do
  [[ "$(query "SELECT count(*) FROM partitions WHERE tier = 'hot'")" == "0" ]] && break; sleep 1
done
cold_bytes=$(query "SELECT sum(bytes)::BIGINT FROM partitions WHERE tier = 'cold'")
[[ "$(query "$values_sql")" == "$values" ]] || { echo "field values differ after compaction" >&2; exit 1; }
cold_ms=$(latency "$probe")
stop

echo "field values:            $values"
echo "hot  (plexus.duckdb):    $hot_bytes bytes, $(awk "BEGIN { printf \"%.2f\", $hot_bytes / $values }") B/value; query $hot_ms ms"
echo "cold (Parquet files):    $cold_bytes bytes, $(awk "BEGIN { printf \"%.2f\", $cold_bytes / $values }") B/value; query $cold_ms ms"
echo "query: $probe (median of 5 after a warm-up, over HTTP with plexus query)"
