#!/usr/bin/env bash
# Issue 14's benchmark: what the metrics cost on the hot path (the RelayCluster meter recorded at every settle, the
# ASP.NET Core, HttpClient, Orleans and runtime meters behind a Prometheus exporter; no OTLP, so no tracing). This
# checkout beside the build before it (BASE_REV, default c557618), both embedded, in the same rounds, on one
# MockUpstream, with the bare .NET proxy as the control. Reports server CPU per request (closed loop, c=20) and added
# latency (open loop), non-streaming and streaming, in bench/results/metrics.md. A Prometheus scrape of the relay every
# 15 s runs alongside, as in production. About 5 minutes (plus the base's build).
#   bash bench/metrics/run.sh [generator options, e.g. --closed-duration 40 --closed-rounds 4]
# Env: BASE_REV; the base is exported with `git archive` to a temporary directory (no worktree is added).
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
report="bench/results/metrics.md"
base_rev="$(git rev-parse "${BASE_REV:-c557618}")"
base_dir="$work/base-src"

build_and_copy
mkdir -p "$base_dir"
git archive "$base_rev" | tar -x -C "$base_dir"
echo "[metrics] building the base (Release) at $(git log -1 --format=%h "$base_rev")" >&2
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

# A scraper, as Prometheus would be: every 15 s, with the admin key.
( while true; do curl -s -o /dev/null -H "Authorization: Bearer admin-bench-7e3a9c1f5d2b8e4a" "${url[relay]}/metrics"; sleep 15; done ) &
pids+=("$!")

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
  --note "Command: bash bench/metrics/run.sh $*; /metrics of relay scraped every 15 s" \
  "$@" >/dev/null
cat "$report"
