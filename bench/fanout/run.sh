#!/usr/bin/env bash
# Fan-out benchmark: redis-server + 2 silos on free loopback ports, then fanout.mjs; writes results.md.
# Usage: bench/fanout/run.sh        (env: FANOUT_NS=1,100,1000  TTFT_RUNS=10  FANOUT_WORKERS=2  SKIP_BUILD=1
#                                         RELAY_ARTIFACTS=/tmp/art-fanout: the build output, outside the tree)
# HeartbeatSeconds=0.5 makes the SSE response (and its x-relay-stream-id header) start during the long
# simulated ttft, so subscribers can attach before the first token.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# Built with --artifacts-path so the benchmark never shares bin/obj with builds running in the tree.
export RELAY_ARTIFACTS="${RELAY_ARTIFACTS:-/tmp/art-fanout}"
DLL="$RELAY_ARTIFACTS/bin/RelayCluster.Silo/release/RelayCluster.Silo.dll"
LOGDIR="$(mktemp -d /tmp/fanout-bench.XXXXXX)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  (cd "$ROOT" && dotnet build src/RelayCluster.Silo -c Release --artifacts-path "$RELAY_ARTIFACTS" -v q -nologo >/dev/null)
fi
[[ -d "$HERE/node_modules/@microsoft/signalr" ]] || (cd "$HERE" && npm install --no-audit --no-fund >/dev/null)
ulimit -n 65536 2>/dev/null || true

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --protected-mode no >"$LOGDIR/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done

# The Redis store refuses tenant keys shorter than 24 characters.
export FANOUT_KEY=sk-bench-3f9c1a7e5b2d8c4f6a0e9b1d
start_silo() {
  local port=$1 name=$2
  env ASPNETCORE_ENVIRONMENT=Production Relay__Store=redis Relay__Redis="127.0.0.1:$RPORT" \
    Relay__AdminKey=admin-bench-7e3a9c1f5d2b8e4a Relay__Requests__HeartbeatSeconds=0.5 Relay__Tenants__bench__Keys__0="$FANOUT_KEY" Logging__LogLevel__Default=Warning \
    dotnet "$DLL" --urls "http://127.0.0.1:$port" >"$LOGDIR/$name.log" 2>&1 &
  PIDS+=($!)
}
PA=$(free_port); start_silo "$PA" siloA
PB=$(free_port); start_silo "$PB" siloB
SILO_PIDS="${PIDS[1]},${PIDS[2]}"
for p in "$PA" "$PB"; do
  ok=0
  for _ in $(seq 1 300); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/readyz")" == 200 ]]; then ok=1; break; fi
    sleep 0.1
  done
  [[ $ok == 1 ]] || { echo "silo on $p not ready; logs in $LOGDIR" >&2; exit 1; }
done
echo "# redis :$RPORT  silo A :$PA  silo B :$PB  logs $LOGDIR" >&2

cd "$HERE"
# CPU counters: the silos' and redis-server's CPU seconds per run, per delivered message.
export REDIS_PID="${PIDS[0]}" SILO_PIDS
timeout 900 node fanout.mjs "http://127.0.0.1:$PA" "http://127.0.0.1:$PB" "$HERE/results.md"
