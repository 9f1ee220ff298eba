#!/usr/bin/env bash
# Batch benchmark (issue 12): the last build before batches moved onto Orleans grains (BASE_REV, default 9ebe9da: batch
# work leased from the memory store or from Redis Streams by Lua scripts) beside this checkout, in one run on one machine,
# on one MockUpstream answering each request after LATENCY_MS (45 ms). Every phase runs the old build, then the new:
#   a) N (10,000) items, embedded store: wall time create → completed, beside the floor N × 45 ms / 64 in flight, also
#      measured directly (a closed loop of 64 straight to MockUpstream, just before each build's batch);
#   b) BIG (200,000) items, embedded store, in a fresh silo: whether it completes within BIG_TIMEOUT, the silo's peak RSS
#      (VmHWM), wall time beside the floor;
#   c) cluster: CLUSTER_SILOS (2) silos with Relay__Store=redis on a fresh redis-server per build (AOF, appendfsync as
#      REDIS_FSYNC, `always` as the cluster tests), N items: wall time, redis-server and silo CPU seconds per item.
# Writes bench/results/batch-orleans.md (also printed). About 10 minutes at the defaults once built (+2–3 to build each).
#   bash bench/batch/run.sh
#   BIG=20000 bash bench/batch/run.sh        # about 4 minutes
# Env: N, BIG, LATENCY_MS, BIG_TIMEOUT (s, 900), CLUSTER_SILOS (2), REDIS_FSYNC (always), BASE_REV (9ebe9da), BASE_DIR
# (/tmp/relay-batch-base: a detached worktree of BASE_REV, created if missing and kept), BASE_ARTIFACTS (/tmp/art-batch-base),
# RELAY_ARTIFACTS (/tmp/art-batch: this checkout's build), SKIP_BUILD=1 (use both artifacts as they are), REPORT (the file).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
N="${N:-10000}" BIG="${BIG:-200000}" LATENCY_MS="${LATENCY_MS:-45}" BIG_TIMEOUT="${BIG_TIMEOUT:-900}"
CLUSTER_SILOS="${CLUSTER_SILOS:-2}" REDIS_FSYNC="${REDIS_FSYNC:-always}"
BASE_REV="$(git rev-parse "${BASE_REV:-9ebe9da}")"
BASE_DIR="${BASE_DIR:-/tmp/relay-batch-base}"
declare -A ART=([old]="${BASE_ARTIFACTS:-/tmp/art-batch-base}" [new]="${RELAY_ARTIFACTS:-/tmp/art-batch}")
REPORT="${REPORT:-$ROOT/bench/results/batch-orleans.md}"
WORK="$(mktemp -d /tmp/batch-bench.XXXXXX)"
KEY=sk-bench-3f9c1a7e5b2d8c4f6a0e9b1d # a cluster refuses keys shorter than 24 characters
ADMIN_KEY=admin-bench-7e3a9c1f5d2b8e4a
PIDS=()
started_at="$(date -u '+%Y-%m-%d %H:%M') UTC" load_before="$(cut -d' ' -f1-3 /proc/loadavg)" seconds_before=$SECONDS
command -v redis-server >/dev/null || { echo "[batch] redis-server is not installed (apt-get install -y redis-server)" >&2; exit 1; }

# Stops processes: SIGTERM, at most 20 s to exit (a silo leaves its Orleans cluster first), then SIGKILL.
stop() {
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  for _ in $(seq 1 200); do
    local alive=0 pid
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  kill -9 "$@" 2>/dev/null || true
}
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ] && compgen -G "$WORK/*.log" >/dev/null; then
    echo "[batch] failed ($status); server logs:" >&2
    tail -n 30 "$WORK"/*.log >&2
  fi
  stop "${PIDS[@]}"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# An Orleans silo port from 20000–32767, below the range the OS hands out to outgoing connections (as the cluster tests).
free_silo_port() {
  python3 -c '
import random, socket
for _ in range(50):
    p = random.randint(20000, 32767); s = socket.socket()
    try: s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: s.close()'
}
# wait_http URL [-f]: at most 30 s for URL to answer (with -f: to answer 2xx).
wait_http() { for _ in $(seq 1 300); do curl -s ${2:-} -o /dev/null "$1" && return 0; sleep 0.1; done; echo "[batch] not up: $1" >&2; exit 1; }

# --- builds: this checkout ("new") and BASE_REV in its own worktree ("old"), each into its own artifacts directory ---
build() { # $1 checkout, $2 artifacts
  for project in RelayCluster.Silo RelayCluster.MockUpstream; do
    dotnet build "$1/src/$project" -c Release --artifacts-path "$2" -v q -nologo >"$WORK/build.log" 2>&1 ||
      { cat "$WORK/build.log" >&2; exit 1; }
  done
}
if [ ! -e "$BASE_DIR" ]; then
  echo "[batch] creating the base worktree $BASE_DIR at $(git log -1 --format=%h "$BASE_REV")" >&2
  git worktree add --detach "$BASE_DIR" "$BASE_REV" >&2
fi
[ "$(git -C "$BASE_DIR" rev-parse HEAD)" = "$BASE_REV" ] ||
  { echo "[batch] $BASE_DIR is not at $BASE_REV: remove it (git worktree remove $BASE_DIR) or set BASE_DIR" >&2; exit 1; }
if [ "${SKIP_BUILD:-}" != 1 ]; then
  echo "[batch] building this checkout into ${ART[new]} and $(git log -1 --format=%h "$BASE_REV") into ${ART[old]}" >&2
  build "$ROOT" "${ART[new]}"
  build "$BASE_DIR" "${ART[old]}"
fi
# Private copies, so that a build elsewhere during the run cannot change a running silo's DLLs.
for build in old new; do
  cp -r "${ART[$build]}/bin/RelayCluster.Silo/release" "$WORK/silo-$build"
done
cp -r "${ART[new]}/bin/RelayCluster.MockUpstream/release" "$WORK/mock"

MPORT=$(free_port)
dotnet "$WORK/mock/RelayCluster.MockUpstream.dll" --port "$MPORT" --api-key mock-key \
  --ttft-ms "$LATENCY_MS" --interval-ms 0 --tokens 16 --Logging:LogLevel:Default=Warning >"$WORK/mock.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MPORT/"
export MOCK="http://127.0.0.1:$MPORT" MOCK_KEY=mock-key KEY CLK_TCK="$(getconf CLK_TCK)"

# start_silo NAME BUILD DATA MAX_REQUESTS [env…]: a silo on a free port, its files and batch parts under DATA (shared by a
# cluster's silos, as a real cluster's volume). Appends its pid to SILO_PIDS and its URL to SILO_URLS.
SILO_PIDS=() SILO_URLS=()
start_silo() {
  local name=$1 build=$2 data=$3 max=$4 port
  shift 4
  port=$(free_port)
  env ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning Relay__AdminKey="$ADMIN_KEY" \
    Relay__Batches__MaxRequests="$max" Relay__UsageLog__Path="$WORK/$name-usage" \
    Relay__Files__Path="$data/files" Relay__Batches__WorkPath="$data/batches" \
    Relay__Providers__mock__Type=openai Relay__Providers__mock__BaseUrl="$MOCK/v1" Relay__Providers__mock__ApiKey=mock-key \
    Relay__Models__remote-fast__Provider=mock Relay__Models__remote-fast__UpstreamModel=mock-fast \
    Relay__Models__remote-fast__InputPerMTok=0.27 Relay__Models__remote-fast__OutputPerMTok=1.10 \
    Relay__Tenants__bench__Keys__0="$KEY" "$@" \
    dotnet "$WORK/silo-$build/RelayCluster.Silo.dll" --urls "http://127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!) SILO_PIDS+=($!) SILO_URLS+=("http://127.0.0.1:$port")
}
stop_silos() { stop "${SILO_PIDS[@]}"; SILO_PIDS=() SILO_URLS=(); }
# measure PHASE BUILD MODE N [env…]: one batch.mjs line into results.jsonl (and on stderr, for the log of the run).
measure() {
  local phase=$1 build=$2 mode=$3 n=$4
  shift 4
  echo "[batch] $phase $build: $mode $n" >&2
  env TAGS="{\"phase\":\"$phase\",\"build\":\"$build\"}" "$@" node "$HERE/batch.mjs" "$mode" "$n" | tee -a "$WORK/results.jsonl" >&2
}
standard_max=$((N > 50000 ? N : 50000)) # the default limit (OpenAI's), raised only if N passes it

node "$HERE/batch.mjs" direct 2000 >/dev/null # warm-up of MockUpstream

# --- a) N items, embedded -------------------------------------------------------------------------------------------
for build in old new; do
  measure a "$build" direct "$N"
  start_silo "a-$build" "$build" "$WORK/a-$build" "$standard_max"
  wait_http "${SILO_URLS[0]}/healthz" -f
  SILO="${SILO_URLS[0]}" node "$HERE/batch.mjs" batch 500 >/dev/null # warm-up of the silo
  measure a "$build" batch "$N" SILO="${SILO_URLS[0]}" CPU_PIDS="silo=${SILO_PIDS[0]}" TIMEOUT_S=600
  stop_silos
done

# --- b) BIG items, embedded, a fresh silo (OpenAI's limit is 50,000 a batch; this goes past it on purpose) ------------
for build in old new; do
  start_silo "b-$build" "$build" "$WORK/b-$build" "$BIG"
  wait_http "${SILO_URLS[0]}/healthz" -f
  measure b "$build" batch "$BIG" SILO="${SILO_URLS[0]}" CPU_PIDS="silo=${SILO_PIDS[0]}" TIMEOUT_S="$BIG_TIMEOUT"
  stop_silos
  rm -rf "$WORK/b-$build" # its files: hundreds of MB at 200,000
done

# --- c) cluster: CLUSTER_SILOS silos on a fresh redis-server per build, N items ---------------------------------------
for build in old new; do
  rport=$(free_port)
  mkdir -p "$WORK/redis-$build"
  redis-server --port "$rport" --bind 127.0.0.1 --dir "$WORK/redis-$build" --appendonly yes --appendfsync "$REDIS_FSYNC" \
    --save "" --protected-mode no >"$WORK/redis-$build.log" 2>&1 &
  redis_pid=$!
  PIDS+=("$redis_pid")
  for _ in $(seq 1 100); do [ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
  for i in $(seq 1 "$CLUSTER_SILOS"); do
    start_silo "c-$build-$i" "$build" "$WORK/c-$build" "$standard_max" \
      Relay__Store=redis Relay__Redis="127.0.0.1:$rport" Relay__SiloPort="$(free_silo_port)"
  done
  for url in "${SILO_URLS[@]}"; do wait_http "$url/readyz" -f; done
  # Every silo in the membership table as active before the clock starts, so that all of them take work.
  for _ in $(seq 1 300); do
    active=$(curl -sf -H "authorization: Bearer $ADMIN_KEY" "${SILO_URLS[0]}/admin/cluster" |
      python3 -c 'import json,sys; print(sum(s["status"].lower() == "active" for s in json.load(sys.stdin)["silos"]))' 2>/dev/null || echo 0)
    [ "$active" -ge "$CLUSTER_SILOS" ] && break
    sleep 0.1
  done
  [ "$active" -ge "$CLUSTER_SILOS" ] || echo "[batch] c $build: only $active of $CLUSTER_SILOS silos active" >&2
  SILO="${SILO_URLS[0]}" node "$HERE/batch.mjs" batch 500 >/dev/null # warm-up of the silos and the store's scripts
  measure c "$build" batch "$N" SILO="${SILO_URLS[0]}" ADMIN_KEY="$ADMIN_KEY" TIMEOUT_S=600 \
    CPU_PIDS="silo=$(IFS=+; echo "${SILO_PIDS[*]}"),redis=$redis_pid"
  stop_silos # before their Redis, which they leave the cluster through
  stop "$redis_pid"
done

# --- the report ---------------------------------------------------------------------------------------------------------
subject() { git -C "$1" log -1 --format='%h "%s"' | awk '{ print (length > 100 ? substr($0, 1, 99) "…\"" : $0) }'; }
new_build="$(subject "$ROOT")$(git diff --quiet HEAD -- src || echo ' (with uncommitted changes in src/)')"
git diff --quiet "$BASE_REV" -- src && new_build+=" (src/ is the old build's: an A/A run, its ratios show the noise)"
env RESULTS="$WORK/results.jsonl" STARTED="$started_at" ELAPSED=$((SECONDS - seconds_before)) N="$N" BIG="$BIG" \
  LATENCY_MS="$LATENCY_MS" CLUSTER_SILOS="$CLUSTER_SILOS" REDIS_FSYNC="$REDIS_FSYNC" BIG_TIMEOUT="$BIG_TIMEOUT" \
  OLD_BUILD="$(subject "$BASE_DIR") in $BASE_DIR" NEW_BUILD="$new_build" \
  MACHINE="$(nproc) cores, shared: load average $load_before before the run, $(cut -d' ' -f1-3 /proc/loadavg) after; .NET $(dotnet --version), $(redis-server --version | cut -d' ' -f1-3), Node $(node --version)" \
  node "$HERE/report.mjs" >"$REPORT"
cat "$REPORT"
for log in "$WORK"/[abc]-*.log; do
  count="$(grep -cE '^(warn|fail|crit):' "$log" || true)"
  if [ "$count" -gt 0 ]; then
    echo "[batch] $(basename "$log") logged $count warnings/errors; the last: $(grep -A1 -E '^(warn|fail|crit):' "$log" | tail -n 2 | tr '\n' ' ')" >&2
  fi
done
