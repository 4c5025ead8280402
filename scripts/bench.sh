#!/usr/bin/env bash
# One command: Plexus beside InfluxDB 1.6, VictoriaMetrics and ClickHouse on the same TSBS-iot data, same run.
# See docs/benchmarks.md. Usage: scripts/bench.sh [--reference] [--scale N] [options]
#        scripts/bench.sh --mqtt [Plexus.MqttBench options]: MQTT device ingest beside Mosquitto instead.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
trucks=100
duration=5h
start=2016-01-01T22:00:00Z
seed=1
scale=1
install=1
data=""
compare_args=()

usage() {
  cat <<'USAGE'
scripts/bench.sh [options]
  --reference           the benchmark issue's data set: 1,000 trucks x 5 h from 2016-01-01T22:00Z at 10 s
                        (~3.24 M rows, ~15.9 M field values); default is 100 trucks x 5 h (~0.32 M rows)
  --scale N             N x the trucks (with or without --reference)
  --trucks N            trucks before --scale (default 100; 1000 with --reference)
  --duration D          simulated time span (default 5h)
  --data FILE           use this line-protocol file instead of running 'plexus simulate'
  --no-install          do not apt-get the peers (they must be installed)
  --systems LIST        plexus,influxdb,victoriametrics,clickhouse (default: all)
  --writers LIST        concurrent writers (default 1,2)
  --runs N              loads per writer count, fresh data folder each (default 3)
  --batch-size N        lines per write request (default 10000)
  --query-runs N        timed runs per query after a warm-up (default 5)
  --out FILE            JSON results (default bench/results/compare-<UTC>.json, plus a .md table beside it)
  --keep-data           keep the servers' data folders (under $TMPDIR/plexus-compare)

scripts/bench.sh --mqtt [options]
  MQTT ingest: 100 devices publishing JSON telemetry at QoS 0 and 1, Plexus (rows stored) beside Mosquitto
  (messages forwarded to one subscriber), over TCP and TLS, with and without a devices/# subscriber.
  Options after --mqtt go to bench/Plexus.MqttBench (--devices, --warmup, --messages, --qos, --runs, --targets,
  --transport tcp,tls, --subscriber none,devices, --generator, --out, --keep-data; --no-install as above).
USAGE
}

# 0. The MQTT benchmark is its own harness; everything after --mqtt is its options.
if [[ "${1:-}" == "--mqtt" ]]; then
  shift
  mqtt_args=()
  for arg in "$@"; do
    case "$arg" in
      --no-install) install=0 ;;
      -h|--help) usage; exit 0 ;;
      *) mqtt_args+=("$arg") ;;
    esac
  done
  if [[ ! -x /usr/sbin/mosquitto ]] && ! command -v mosquitto >/dev/null; then
    if [[ $install -eq 0 ]]; then echo "bench.sh: mosquitto is missing (and --no-install)" >&2; exit 1; fi
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "== installing mosquitto"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mosquitto
  fi
  mosquitto="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
  echo "== building (Release)"
  dotnet build "$root/src/Plexus.Cli/Plexus.Cli.csproj" -c Release -v quiet -nologo
  dotnet build "$root/bench/Plexus.MqttBench/Plexus.MqttBench.csproj" -c Release -v quiet -nologo
  cd "$root"
  exec dotnet "$root/bench/Plexus.MqttBench/bin/Release/net10.0/Plexus.MqttBench.dll" \
    --plexus "$root/src/Plexus.Cli/bin/Release/net10.0/plexus" --mosquitto "$mosquitto" "${mqtt_args[@]}"
fi

while [[ $# -gt 0 ]]; do
  case "$1" in
    --reference) trucks=1000; duration=5h; start=2016-01-01T22:00:00Z; shift ;;
    --scale) scale="$2"; shift 2 ;;
    --trucks) trucks="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --no-install) install=0; shift ;;
    --systems|--writers|--runs|--batch-size|--query-runs|--out) compare_args+=("$1" "$2"); shift 2 ;;
    --keep-data) compare_args+=("$1"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
trucks=$((trucks * scale))

# 1. The peers, from the distribution's packages. Their services are not started or touched: the harness runs
#    each binary itself, on 127.0.0.1, with its data under a temp folder.
need=()
command -v influxd >/dev/null || need+=(influxdb)
command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
[[ -x /usr/sbin/clickhouse-server ]] || command -v clickhouse-server >/dev/null || need+=(clickhouse-server clickhouse-client)
if [[ ${#need[@]} -gt 0 ]]; then
  if [[ $install -eq 0 ]]; then echo "bench.sh: missing ${need[*]} (and --no-install)" >&2; exit 1; fi
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "== installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

# 2. Plexus and the harness, Release.
echo "== building (Release)"
dotnet build "$root/src/Plexus.Cli/Plexus.Cli.csproj" -c Release -v quiet -nologo
dotnet build "$root/bench/Plexus.Compare/Plexus.Compare.csproj" -c Release -v quiet -nologo
plexus="$root/src/Plexus.Cli/bin/Release/net10.0/plexus"
harness="$root/bench/Plexus.Compare/bin/Release/net10.0/Plexus.Compare.dll"
version="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n "$(git -C "$root" status --porcelain 2>/dev/null | head -1)" ]] && version="$version+dirty"

# 3. The data set, deterministic from the seed; cached under bench/results/ (git-ignored).
if [[ -z "$data" ]]; then
  mkdir -p "$root/bench/results/data"
  data="$root/bench/results/data/fleet-${trucks}trucks-${duration}-${start//:/}-seed${seed}.lp"
  label="plexus simulate --trucks $trucks --start $start --duration $duration --seed $seed"
  if [[ ! -s "$data" ]]; then
    echo "== $label"
    if ! "$plexus" simulate --help >/dev/null 2>&1; then
      echo "bench.sh: this build of plexus has no 'simulate' command; pass --data FILE" >&2; exit 1
    fi
    "$plexus" simulate --trucks "$trucks" --start "$start" --duration "$duration" --seed "$seed" --out "$data.tmp"
    mv "$data.tmp" "$data"
  fi
else
  label="$data"
fi

# 4. The comparison. It stops every server it started (by PID), also on Ctrl+C.
echo "== comparing on $data"
cd "$root"
exec dotnet "$harness" --data "$data" --data-label "$label" --plexus "$plexus" --plexus-version "$version" "${compare_args[@]}"
