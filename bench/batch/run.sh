#!/usr/bin/env bash
# Batch benchmark: MockUpstream answering every request after 45 ms, one silo (embedded store) relaying to it.
#   1. baseline: 10,000 requests straight to MockUpstream, closed loop at the batch default concurrency (64);
#   2. a 10,000-request batch through the silo: wall time (create → completed) and the silo's peak RSS;
#   3. a 100,000-request batch in a fresh silo: its peak RSS (VmHWM) and wall time.
# Usage: bench/batch/run.sh    (env: N=10000 BIG=100000 LATENCY_MS=45 SKIP_BUILD=1 RELAY_ARTIFACTS=/tmp/art-batch)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export RELAY_ARTIFACTS="${RELAY_ARTIFACTS:-/tmp/art-batch}"
N="${N:-10000}"; BIG="${BIG:-100000}"; LATENCY_MS="${LATENCY_MS:-45}"
WORK="$(mktemp -d /tmp/batch-bench.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  (cd "$ROOT" && dotnet build src/RelayCluster.Silo -c Release --artifacts-path "$RELAY_ARTIFACTS" -v q -nologo >/dev/null \
    && dotnet build src/RelayCluster.MockUpstream -c Release --artifacts-path "$RELAY_ARTIFACTS" -v q -nologo >/dev/null)
fi

MPORT=$(free_port)
dotnet "$RELAY_ARTIFACTS/bin/RelayCluster.MockUpstream/release/RelayCluster.MockUpstream.dll" --port "$MPORT" --api-key mock-key \
  --ttft-ms "$LATENCY_MS" --interval-ms 0 --tokens 16 --Logging:LogLevel:Default=Warning >"$WORK/mock.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MPORT/"

start_silo() { # $1 name, $2 most requests a batch may hold; leaves the port in SILO_PORT and the pid in SILO_PID
  local port; port=$(free_port)
  env ASPNETCORE_ENVIRONMENT=Production Relay__Batches__MaxRequests="$2" Logging__LogLevel__Default=Warning Relay__AdminKey=admin-bench-7e3a9c1f5d2b8e4a \
    Relay__UsageLog__Path="$WORK/$1/usage" Relay__Files__Path="$WORK/$1/files" Relay__Batches__WorkPath="$WORK/$1/batches" \
    Relay__Providers__mock__Type=openai Relay__Providers__mock__BaseUrl="http://127.0.0.1:$MPORT/v1" Relay__Providers__mock__ApiKey=mock-key \
    Relay__Models__remote-fast__Provider=mock Relay__Models__remote-fast__UpstreamModel=mock-fast \
    Relay__Models__remote-fast__InputPerMTok=0.27 Relay__Models__remote-fast__OutputPerMTok=1.10 \
    Relay__Tenants__bench__Keys__0=sk-bench \
    dotnet "$RELAY_ARTIFACTS/bin/RelayCluster.Silo/release/RelayCluster.Silo.dll" --urls "http://127.0.0.1:$port" >"$WORK/$1.log" 2>&1 &
  SILO_PID=$!; PIDS+=($SILO_PID)
  wait_http "http://127.0.0.1:$port/healthz"
  SILO_PORT=$port
}
peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

export MOCK="http://127.0.0.1:$MPORT" MOCK_KEY=mock-key KEY=sk-bench
node "$HERE/batch.mjs" direct 2000 >/dev/null # warm-up of MockUpstream
DIRECT=$(node "$HERE/batch.mjs" direct "$N")

start_silo small 50000
export SILO="http://127.0.0.1:$SILO_PORT"
node "$HERE/batch.mjs" batch 500 >/dev/null # warm-up of the silo
SMALL=$(node "$HERE/batch.mjs" batch "$N")
SMALL_RSS=$(peak_rss_mb "$SILO_PID")

# OpenAI's limit is 50,000 requests a batch; the memory test goes past it on purpose.
start_silo big "$BIG"
export SILO="http://127.0.0.1:$SILO_PORT"
LARGE=$(node "$HERE/batch.mjs" batch "$BIG")
BIG_RSS=$(peak_rss_mb "$SILO_PID")

node -e '
const [direct, small, large, smallRss, bigRss, n, big, latency] = process.argv.slice(1);
const d = JSON.parse(direct), s = JSON.parse(small), l = JSON.parse(large);
const ideal = n * latency / 1000 / 64;
console.log(`# Batch benchmark (${new Date().toISOString()}, ${require("os").cpus().length} cores, MockUpstream ${latency} ms a request)\n`);
console.log("| run | requests | wall time (s) | peak RSS of the silo (MB) | status | output lines |");
console.log("|---|---:|---:|---:|---|---:|");
console.log(`| direct to MockUpstream, 64 at a time (baseline) | ${n} | ${d.seconds.toFixed(2)} | – | – | – |`);
console.log(`| batch through the silo | ${n} | ${s.seconds.toFixed(2)} | ${smallRss} | ${s.status} | ${s.outputLines} |`);
console.log(`| batch through the silo | ${big} | ${l.seconds.toFixed(2)} | ${bigRss} | ${l.status} | ${l.outputLines} |`);
console.log(`\nBatch / direct wall time at ${n}: **${(s.seconds / d.seconds).toFixed(2)}** (the floor at 64 in flight is ${ideal.toFixed(2)} s).`);
console.log(`Targets: ${n} requests in ≤ 10 s: **${s.seconds <= 10 ? "met" : "NOT met"}** (${s.seconds.toFixed(2)} s); peak RSS ≤ 200 MB at ${big}: **${Number(bigRss) <= 200 ? "met" : "NOT met"}** (${bigRss} MB).`);
' "$DIRECT" "$SMALL" "$LARGE" "$SMALL_RSS" "$BIG_RSS" "$N" "$BIG" "$LATENCY_MS" | tee "$HERE/results.md"
