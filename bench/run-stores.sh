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

build_and_copy
base="${RELAY_BASE:-}"
if [ -n "$base" ]; then
  echo "[run-stores.sh] building the base silo in $base (Release)" >&2
  dotnet build -c Release -nologo -v q "$base/src/RelayCluster.Silo/RelayCluster.Silo.csproj" >&2
  cp -r "$base/src/RelayCluster.Silo/bin/Release/net10.0" "$work/RelayCluster.Silo.base"
fi
start_mock
start_redis

# The same configuration for both silos but the store (see silo_config in common.sh: one tenant, no limits, so the
# benchmark measures the relay path, every request still costing an admission and a settle).
key=sk-bench-3f9c1a7e5b2d8c4f6a0e9b1d # the Redis store refuses tenant keys shorter than 24 characters
silo_config "$key"
silo="$work/RelayCluster.Silo/RelayCluster.Silo.dll"
start_silo silo-memory "$silo" Relay__Store=memory
start_silo silo-redis "$silo" Relay__Store=redis Relay__Redis="127.0.0.1:$redis_port"
relays="memory=${url[silo-memory]},redis=${url[silo-redis]}"
silo_pids="silo-memory=${pid[silo-memory]},silo-redis=${pid[silo-redis]}"
if [ -n "$base" ]; then
  start_silo silo-redis-base "$work/RelayCluster.Silo.base/RelayCluster.Silo.dll" Relay__Store=redis Relay__Redis="127.0.0.1:$redis_port"
  relays="$relays,redis-base=${url[silo-redis-base]}"
  silo_pids="$silo_pids,silo-redis-base=${pid[silo-redis-base]}"
fi

wait_for "$mock_url/v1/models"
for name in "${!url[@]}"; do
  wait_for "${url[$name]}/readyz"
done

# --redis-scripts: the silo's own copy of the store, so the trace names the scripts it really calls.
dotnet "$bench" run \
  --key "$key" \
  --relays "$relays" \
  --direct "$mock_url" \
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
