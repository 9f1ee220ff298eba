#!/usr/bin/env bash
# The usage report over a month of millions of records, on each store (issue 14). Books RECORDS records over TENANTS
# tenants × MODELS models through each store's real booking path (bench/report/RelayCluster.Bench.Report), then times
# GET /admin/usage/report (JSON, CSV, one tenant) and POST /admin/usage/report/compare against a real silo over HTTP.
#   embedded: JsonlUsageLedger.Append writes the month's log; the silo then starts over it and rebuilds its aggregates from
#             the log (the real restart path, timed as "start_seconds": that is also what one scan of the log costs).
#   redis:    the silo starts on a private redis-server (AOF everysec), then tenant-commit.lua books the records in
#             group commits of BATCH records (RedisTenantJournal.CommitAsync, the grain's own call).
# Prints one JSON line per phase. Usage: bench/report/run.sh  (env: RECORDS=2000000 TENANTS=50 MODELS=10 BATCH=200 RUNS=20)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RECORDS="${RECORDS:-2000000}"; TENANTS="${TENANTS:-50}"; MODELS="${MODELS:-10}"; BATCH="${BATCH:-200}"; RUNS="${RUNS:-20}"
ADMIN=admin-bench-report-4f8e2a9c7d1b3e6f
WORK="$(mktemp -d /tmp/report-bench.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_ready() { for _ in $(seq 1 6000); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/readyz")" = 200 ] && return 0; sleep 0.05; done; echo "not ready: $1" >&2; tail -n 20 "$WORK"/silo-*.log >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 1; }

(cd "$ROOT" && dotnet build src/RelayCluster.Silo -c Release -v q -nologo >/dev/null && dotnet build bench/report/RelayCluster.Bench.Report -c Release -v q -nologo >/dev/null)
SILO="$ROOT/src/RelayCluster.Silo/bin/Release/net10.0/RelayCluster.Silo.dll"
BENCH="$ROOT/bench/report/RelayCluster.Bench.Report/bin/Release/net10.0/RelayCluster.Bench.Report.dll"

silo_env=(ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning Relay__AdminKey="$ADMIN" Relay__Orleans__Dashboard=false
  Relay__Providers__sim__Type=simulator Relay__Models__mock-fast__Provider=sim Relay__Files__Path="$WORK/files" Relay__Batches__WorkPath="$WORK/batches")
for t in $(seq 0 $((TENANTS - 1))); do id=$(printf 't%02d' "$t"); silo_env+=("Relay__Tenants__${id}__Keys__0=sk-bench-report-4c9e1a7f3b-$id"); done

# Embedded: book into the log, then start the silo over it.
node_cost() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["cost_nanos"])'; }
booked=$(dotnet "$BENCH" book-embedded "$WORK/usage-embedded" "$RECORDS" "$TENANTS" "$MODELS"); echo "$booked"
cost=$(echo "$booked" | node_cost)
du -h "$WORK/usage-embedded" | awk '{print "{\"phase\":\"log_size\",\"store\":\"embedded\",\"size\":\"" $1 "\"}"}'
PORT=$(free_port); start=$(date +%s.%N)
env "${silo_env[@]}" Relay__UsageLog__Path="$WORK/usage-embedded" dotnet "$SILO" --urls "http://127.0.0.1:$PORT" >"$WORK/silo-embedded.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$PORT"
echo "{\"phase\":\"start\",\"store\":\"embedded\",\"start_seconds\":$(python3 -c "print(round($(date +%s.%N) - $start, 2))")}"
dotnet "$BENCH" measure "http://127.0.0.1:$PORT" "$ADMIN" "$RUNS" "$RECORDS" "$cost"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# Redis: start the silo (it seeds the tenants), then book through the commit script.
RPORT=$(free_port); mkdir "$WORK/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec --dir "$WORK/redis" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
PORT=$(free_port)
env "${silo_env[@]}" Relay__Store=redis Relay__Redis="127.0.0.1:$RPORT" Relay__UsageLog__Path="$WORK/usage-redis" \
  dotnet "$SILO" --urls "http://127.0.0.1:$PORT" >"$WORK/silo-redis.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$PORT"
booked=$(dotnet "$BENCH" book-redis "127.0.0.1:$RPORT" "$RECORDS" "$TENANTS" "$MODELS" "$BATCH"); echo "$booked"
cost=$(echo "$booked" | node_cost)
echo "{\"phase\":\"redis_memory\",\"used_memory_human\":\"$(redis-cli -p "$RPORT" info memory | tr -d '\r' | awk -F: '/^used_memory_human/{print $2}')\",\"usage_hash_fields_t00\":$(redis-cli -p "$RPORT" hlen "{t:t00}:usage:$(date -u +%Y-%m)")}"
dotnet "$BENCH" measure "http://127.0.0.1:$PORT" "$ADMIN" "$RUNS" "$RECORDS" "$cost"
