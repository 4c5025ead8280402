#!/usr/bin/env bash
# The test command of the README and of CI: installs what the tests need on a fresh machine with the .NET
# SDK, checks formatting, builds with warnings as errors, and runs every test project.
set -euo pipefail
cd "$(dirname "$0")/.."

# The real-client tests run the InfluxDB JavaScript client under Node.js.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "== installing Node.js and npm (Debian packages)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm; else sudo apt-get update -qq && sudo apt-get install -y -qq nodejs npm; fi
fi
# The shell examples of docs/ (run by DocsShellExamplesTests) call the API with curl and read its JSON with jq.
if ! command -v jq >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
  echo "== installing jq and curl (Debian packages)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq jq curl; else sudo apt-get update -qq && sudo apt-get install -y -qq jq curl; fi
fi
# The MQTT tests use Mosquitto's command-line clients as a third-party client.
if ! command -v mosquitto_pub >/dev/null 2>&1; then
  echo "== installing mosquitto-clients (Debian package)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq mosquitto-clients; else sudo apt-get update -qq && sudo apt-get install -y -qq mosquitto-clients; fi
fi
# The InfluxQL tests run Debian's influx CLI (1.x) and the Python influxdb client as InfluxDB users have them; where
# the packages cannot be installed those tests are skipped with the reason.
if ! command -v influx >/dev/null 2>&1 || ! /usr/bin/python3 -c "import influxdb" >/dev/null 2>&1; then
  echo "== installing influxdb-client and python3-influxdb (Debian packages)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq influxdb-client python3-influxdb; } \
    || echo "== could not install influxdb-client or python3-influxdb: the InfluxQL client tests will be skipped"
fi
# The PostgreSQL wire-protocol tests run Debian's psql and Python's psycopg2 as PostgreSQL users have them; where the
# packages cannot be installed those tests are skipped with the reason.
if ! command -v psql >/dev/null 2>&1 || ! /usr/bin/python3 -c "import psycopg2" >/dev/null 2>&1; then
  echo "== installing postgresql-client and python3-psycopg2 (Debian packages)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq postgresql-client python3-psycopg2; } \
    || echo "== could not install postgresql-client or python3-psycopg2: the psql and psycopg2 tests will be skipped"
fi
# The Python MQTT example of docs/mqtt.md runs under Debian's paho-mqtt (1.6): DocsPythonExampleTests skip without it,
# DocsShellExamplesTests (which also run the Python examples of influxql.md and postgres.md) fail naming the module.
if ! /usr/bin/python3 -c "import paho.mqtt.client" >/dev/null 2>&1; then
  echo "== installing python3-paho-mqtt (Debian package)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-paho-mqtt; } \
    || echo "== could not install python3-paho-mqtt: the docs' Python MQTT example will be skipped"
fi
# The console's tests (tests/Plexus.Console.Tests) drive Debian's chromium headless through Playwright, which cannot
# download its own browsers here; without chromium those tests are skipped with the reason.
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian package)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium; } \
    || echo "== could not install chromium: the console's browser tests will be skipped"
fi
echo "== npm clients for the real-client tests and the JavaScript examples of docs/mqtt.md (mqtt.js)"
(cd tests/clients/node && npm install --no-audit --no-fund --loglevel=error)

echo "== build (warnings are errors)"
dotnet build Plexus.slnx -c Release -nologo -clp:ErrorsOnly

echo "== format check"
dotnet format Plexus.slnx --verify-no-changes --no-restore -v quiet

echo "== tests"
log=$(mktemp)
status=0
dotnet test Plexus.slnx -c Release --no-build -nologo "$@" 2>&1 | tee "$log" || status=$?

# One plain closing line for every runner that reads it: N passed, N failed.
awk '/(Passed|Failed)! +- +Failed:/ {
       gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit $status
