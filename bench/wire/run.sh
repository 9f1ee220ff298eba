#!/usr/bin/env bash
# Issue 13's benchmark: what wire fidelity (parameter validation, vetting every upstream answer, re-framing SSE, the
# prompt bound) costs on the hot path. This checkout beside the build before issue 13 (BASE_REV, default 070112d), both
# embedded, in the same rounds, on one MockUpstream, with the bare .NET proxy as the control. Reports server CPU per
# request (closed loop, c=20) and added latency (open loop), non-streaming and streaming, in bench/results/wire.md.
# About 5 minutes (the first run also builds the base: add 2).
#   bash bench/wire/run.sh [generator options, e.g. --closed-duration 40 --closed-rounds 4]
# Env: BASE_REV, RELAY_BASE_DIR (default /tmp/relay-13-base: a detached worktree of BASE_REV, created if missing and kept).
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
report="bench/results/wire.md"
base_rev="$(git rev-parse "${BASE_REV:-070112d}")"
base_dir="${RELAY_BASE_DIR:-/tmp/relay-13-base}"

build_and_copy
if [ ! -e "$base_dir" ]; then
  echo "[wire] creating the base worktree $base_dir at $(git log -1 --format=%h "$base_rev")" >&2
  git worktree add --detach "$base_dir" "$base_rev" >&2
fi
[ "$(git -C "$base_dir" rev-parse HEAD)" = "$base_rev" ] ||
  { echo "[wire] $base_dir is not at $base_rev: remove it (git worktree remove $base_dir) or set RELAY_BASE_DIR" >&2; exit 1; }
echo "[wire] building the base (Release) in $base_dir" >&2
dotnet build -c Release -nologo -v q "$base_dir/src/RelayCluster.Silo/RelayCluster.Silo.csproj" >&2
cp -r "$base_dir/src/RelayCluster.Silo/bin/Release/net10.0" "$work/RelayCluster.Silo.base"

port() { dotnet "$bench" free-port; }
mock_port="$(port)"
proxy_port="$(port)"
mock_flags="--ttft-ms 0 --interval-ms 0 --tokens 16"
# shellcheck disable=SC2086 # mock_flags is a list of flags on purpose
dotnet "$work/RelayCluster.MockUpstream/RelayCluster.MockUpstream.dll" --port "$mock_port" $mock_flags >"$work/mock.log" 2>&1 &
pids+=("$!")
mock_pid="$!"
dotnet "$work/RelayCluster.Bench.Proxy/RelayCluster.Bench.Proxy.dll" --urls "http://127.0.0.1:$proxy_port" \
  --upstream "http://127.0.0.1:$mock_port/v1/" >"$work/proxy.log" 2>&1 &
pids+=("$!")
proxy_pid="$!"

declare -A url pid
# start NAME DLL: an embedded silo on a free port. `env` because model names with a dash are not shell variable names.
start() {
  local name=$1 dll=$2 http
  http="$(port)"
  env Logging__LogLevel__Default=Warning Relay__AdminKey=admin-bench-7e3a9c1f5d2b8e4a Relay__UsageLog__Path="$work/usage-$name" \
    Relay__Providers__sim__Type=simulator Relay__Providers__mock__Type=openai Relay__Providers__mock__BaseUrl="http://127.0.0.1:$mock_port/v1" \
    Relay__Models__mock-fast__Provider=sim Relay__Models__remote-fast__Provider=mock Relay__Models__remote-fast__UpstreamModel=mock-fast \
    Relay__Tenants__bench__Keys__0=sk-bench-key \
    dotnet "$dll" --urls "http://127.0.0.1:$http" >"$work/$name.log" 2>&1 &
  pids+=("$!")
  pid[$name]="$!"
  url[$name]="http://127.0.0.1:$http"
}
start relay "$work/RelayCluster.Silo/RelayCluster.Silo.dll"
start relay-base "$work/RelayCluster.Silo.base/RelayCluster.Silo.dll"
wait_for "http://127.0.0.1:$mock_port/v1/models"
wait_for "http://127.0.0.1:$proxy_port/healthz"
wait_for "${url[relay]}/healthz"
wait_for "${url[relay-base]}/healthz"

dotnet "$bench" run \
  --relays "relay=${url[relay]},relay-base=${url[relay-base]}" \
  --direct "http://127.0.0.1:$mock_port" \
  --proxy "http://127.0.0.1:$proxy_port" \
  --pids "silo-relay=${pid[relay]},silo-relay-base=${pid[relay-base]},proxy=$proxy_pid,upstream=$mock_pid" \
  --key sk-bench-key --closed-first true --closed-model remote-fast --concurrency 20 --rate 500 --trace-duration 0 \
  --duration 10 --rounds 2 --warmup 2 --closed-duration 15 --closed-rounds 3 --closed-warmup 4 \
  --out "$report" \
  --note "nproc: $(nproc); .NET SDK $(dotnet --version); base: $(git log -1 --format='%h %s' "$base_rev" | cut -c1-80)" \
  --note "MockUpstream flags: $mock_flags; relay and relay-base embedded (Relay__Store=memory), one silo each" \
  --note "Command: bash bench/wire/run.sh $*" \
  "$@" >/dev/null
cat "$report"
