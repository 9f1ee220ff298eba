#!/usr/bin/env bash
# Memory store vs. Redis store, in one run on this machine: builds Release, starts MockUpstream, a
# private redis-server (AOF on, fsync every second, no RDB snapshots), and two relay silos identical but
# for the store (Relay__Store=memory / Relay__Store=redis) on free loopback ports; then the load generator
# measures both relays against direct at a fixed rate (open loop, alternating rounds, non-streaming and
# streaming), closed-loop throughput of each relay's in-process simulator, Redis's own counters around
# every measured window, and a short MONITOR trace of each relay. Stops everything it started and leaves
# the report in bench/results/stores.md. Takes 3–4 minutes. Extra arguments go to the generator, e.g.
#   bash bench/run-stores.sh --duration 6 --closed-duration 5 --closed-warmup 5   # about 2 minutes
# RELAY_BASE=DIR (another checkout, e.g. a `git worktree add /tmp/wt-base main`) builds that checkout too and
# adds its silo as a third relay, "redis-base", on the same redis-server: a change and its base measured side
# by side in one run, in alternating rounds, instead of two runs on a machine whose load drifts.
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
report="bench/results/stores.md"

command -v redis-server >/dev/null || { echo "[run-stores.sh] redis-server is not installed (apt-get install -y redis-server)" >&2; exit 1; }
build_and_copy
base="${RELAY_BASE:-}"
if [ -n "$base" ]; then
  echo "[run-stores.sh] building the base silo in $base (Release)" >&2
  dotnet build -c Release -nologo -v q "$base/src/RelayCluster.Silo/RelayCluster.Silo.csproj" >&2
  cp -r "$base/src/RelayCluster.Silo/bin/Release/net10.0" "$work/RelayCluster.Silo.base"
  base_silo_port="$(dotnet "$bench" free-port)"
fi
mock_port="$(dotnet "$bench" free-port)"
memory_port="$(dotnet "$bench" free-port)"
redis_silo_port="$(dotnet "$bench" free-port)"
redis_port="$(dotnet "$bench" free-port)"
mock_flags="--ttft-ms 0 --interval-ms 0 --tokens 16"
redis_flags="--save '' --appendonly yes --appendfsync everysec"

# shellcheck disable=SC2086 # mock_flags is a list of flags on purpose
dotnet "$work/RelayCluster.MockUpstream/RelayCluster.MockUpstream.dll" --port "$mock_port" $mock_flags \
  >"$work/mock.log" 2>&1 &
pids+=("$!")
mock_pid="$!"

mkdir "$work/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec --dir "$work/redis" \
  >"$work/redis.log" 2>&1 &
pids+=("$!")
redis_pid="$!"
for _ in $(seq 1 50); do
  [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done

# The same configuration for both silos but the store. `env` because model names with a dash are not
# valid shell variable names. No limits: the tenant is unlimited, so the benchmark measures the relay
# path (every request still costs an admission and a settle), not the rate limiter saying no.
key=sk-bench-3f9c1a7e5b2d8c4f6a0e9b1d # the Redis store refuses tenant keys shorter than 24 characters
silo_env=(
  Logging__LogLevel__Default=Warning
  Relay__AdminKey=admin-bench-7e3a9c1f5d2b8e4a
  Relay__Providers__sim__Type=simulator
  Relay__Providers__mock__Type=openai
  Relay__Providers__mock__BaseUrl="http://127.0.0.1:$mock_port/v1"
  Relay__Models__mock-fast__Provider=sim
  Relay__Models__remote-fast__Provider=mock
  Relay__Models__remote-fast__UpstreamModel=mock-fast
  Relay__Tenants__bench__Keys__0="$key"
)
silo="$work/RelayCluster.Silo/RelayCluster.Silo.dll"
env "${silo_env[@]}" Relay__Store=memory Relay__UsageLog__Path="$work/usage-memory" \
  dotnet "$silo" --urls "http://127.0.0.1:$memory_port" >"$work/silo-memory.log" 2>&1 &
pids+=("$!")
memory_pid="$!"
env "${silo_env[@]}" Relay__Store=redis Relay__Redis="127.0.0.1:$redis_port" Relay__UsageLog__Path="$work/usage-redis" \
  dotnet "$silo" --urls "http://127.0.0.1:$redis_silo_port" >"$work/silo-redis.log" 2>&1 &
pids+=("$!")
redis_silo_pid="$!"
relays="memory=http://127.0.0.1:$memory_port,redis=http://127.0.0.1:$redis_silo_port"
silo_pids="silo-memory=$memory_pid,silo-redis=$redis_silo_pid"
if [ -n "$base" ]; then
  env "${silo_env[@]}" Relay__Store=redis Relay__Redis="127.0.0.1:$redis_port" Relay__UsageLog__Path="$work/usage-redis-base" \
    dotnet "$work/RelayCluster.Silo.base/RelayCluster.Silo.dll" --urls "http://127.0.0.1:$base_silo_port" >"$work/silo-redis-base.log" 2>&1 &
  pids+=("$!")
  relays="$relays,redis-base=http://127.0.0.1:$base_silo_port"
  silo_pids="$silo_pids,silo-redis-base=$!"
fi

wait_for "http://127.0.0.1:$mock_port/v1/models"
wait_for "http://127.0.0.1:$memory_port/readyz"
wait_for "http://127.0.0.1:$redis_silo_port/readyz"
[ -z "$base" ] || wait_for "http://127.0.0.1:$base_silo_port/readyz"

# --redis-scripts: the silo's own copy of the store, so the trace names the scripts it really calls.
dotnet "$bench" run \
  --key "$key" \
  --relays "$relays" \
  --direct "http://127.0.0.1:$mock_port" \
  --redis "127.0.0.1:$redis_port" \
  --redis-scripts "$work/RelayCluster.Silo/RelayCluster.Redis.dll" \
  --pids "$silo_pids,upstream=$mock_pid,redis-server=$redis_pid" \
  --out "$report" \
  --note "nproc: $(nproc); .NET SDK $(dotnet --version); $(redis-server --version | cut -d' ' -f1-3)" \
  --note "MockUpstream flags: $mock_flags; redis-server flags: $redis_flags" \
  --note "Silos: the same configuration, one with Relay__Store=memory, one with Relay__Store=redis (one tenant, no limits)${base:+; redis-base: the build of $base ($(git -C "$base" log -1 --format=%h)), Relay__Store=redis on the same redis-server}" \
  --note "Command: bash bench/run-stores.sh $*" \
  "$@"

for log in silo-memory silo-redis silo-redis-base; do
  if [ -s "$work/$log.log" ]; then
    echo "[run-stores.sh] $log warnings/errors during the run:" >&2
    tail -n 20 "$work/$log.log" >&2
  fi
done
