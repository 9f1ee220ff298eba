#!/usr/bin/env bash
# Tenant a's chat latency while tenant b, holding FILES files, lists them in a loop (issue 10 item 13).
# One silo (embedded store, in-process simulator). Phases: a alone; b listing 20 a page; b listing with the
# default limit (every file in one answer). Prints one JSON line per phase.
# Usage: bench/files-listing/run.sh   (env: FILES=3000 REQUESTS=2000 LISTERS=2 SILO_DLL=path to another build to compare)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
FILES="${FILES:-3000}"; REQUESTS="${REQUESTS:-2000}"; LISTERS="${LISTERS:-2}"
WORK="$(mktemp -d /tmp/files-listing-bench.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

if [[ -z "${SILO_DLL:-}" ]]; then
  (cd "$ROOT" && dotnet build src/RelayCluster.Silo -c Release -v q -nologo >/dev/null)
  cp -r "$ROOT/src/RelayCluster.Silo/bin/Release/net10.0" "$WORK/silo"
  SILO_DLL="$WORK/silo/RelayCluster.Silo.dll"
fi

PORT=$(free_port)
env ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning Relay__AdminKey=admin-bench-files-listing \
  Relay__UsageLog__Path="$WORK/usage" Relay__Files__Path="$WORK/files" Relay__Batches__WorkPath="$WORK/batches" \
  Relay__Providers__sim__Type=simulator Relay__Models__mock-fast__Provider=sim \
  Relay__Tenants__a__Keys__0=sk-bench-a Relay__Tenants__b__Keys__0=sk-bench-b \
  dotnet "$SILO_DLL" --urls "http://127.0.0.1:$PORT" >"$WORK/silo.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/healthz"

export SILO="http://127.0.0.1:$PORT" KEY_A=sk-bench-a KEY_B=sk-bench-b
node "$HERE/listing.mjs" seed "$FILES"
node "$HERE/listing.mjs" measure 1000 0 20 >/dev/null # warm-up
node "$HERE/listing.mjs" measure "$REQUESTS" 0 20
node "$HERE/listing.mjs" measure "$REQUESTS" "$LISTERS" 20
node "$HERE/listing.mjs" measure "$REQUESTS" "$LISTERS" default
