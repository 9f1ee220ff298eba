#!/usr/bin/env bash
# Benchmarks the relay on this machine in one go: builds Release, starts MockUpstream, a relay silo and
# a bare pass-through proxy (the control) on free loopback ports, runs the load generator (relay vs
# direct at a fixed rate, then closed-loop throughput), optionally cross-checks the throughput with
# wrk, stops everything and leaves the report in bench/results/latest.md. Takes 3–4 minutes.
# (The memory store vs. Redis store comparison is run-stores.sh.)
# Extra arguments go to the generator, e.g.
#   bash bench/run.sh --rate 1000 --duration 30 --concurrency 128
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
report="bench/results/latest.md"
# An --out among the generator's options moves the report, and the wrk cross-check below with it.
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
  if [ "${args[i]}" = --out ]; then report="${args[i + 1]}"; fi
done
build_and_copy
mock_port="$(dotnet "$bench" free-port)"
relay_port="$(dotnet "$bench" free-port)"
proxy_port="$(dotnet "$bench" free-port)"
mock_flags="--ttft-ms 0 --interval-ms 0 --tokens 16"

# shellcheck disable=SC2086 # mock_flags is a list of flags on purpose
dotnet "$work/RelayCluster.MockUpstream/RelayCluster.MockUpstream.dll" --port "$mock_port" $mock_flags \
  >"$work/mock.log" 2>&1 &
pids+=("$!")
mock_pid="$!"

# `env` because model names with a dash are not valid shell variable names. No limits configured: the
# tenant is unlimited, so the benchmark measures the relay path, not the rate limiter saying no.
env Logging__LogLevel__Default=Warning \
  Relay__AdminKey=admin-bench-7e3a9c1f5d2b8e4a \
  Relay__UsageLog__Path="$work/usage" \
  Relay__Providers__sim__Type=simulator \
  Relay__Providers__mock__Type=openai \
  Relay__Providers__mock__BaseUrl="http://127.0.0.1:$mock_port/v1" \
  Relay__Models__mock-fast__Provider=sim \
  Relay__Models__remote-fast__Provider=mock \
  Relay__Models__remote-fast__UpstreamModel=mock-fast \
  Relay__Tenants__bench__Keys__0=sk-bench-key \
  dotnet "$work/RelayCluster.Silo/RelayCluster.Silo.dll" --urls "http://127.0.0.1:$relay_port" \
  >"$work/silo.log" 2>&1 &
pids+=("$!")
relay_pid="$!"

dotnet "$work/RelayCluster.Bench.Proxy/RelayCluster.Bench.Proxy.dll" --urls "http://127.0.0.1:$proxy_port" \
  --upstream "http://127.0.0.1:$mock_port/v1/" >"$work/proxy.log" 2>&1 &
pids+=("$!")
proxy_pid="$!"

wait_for "http://127.0.0.1:$mock_port/v1/models"
wait_for "http://127.0.0.1:$relay_port/healthz"
wait_for "http://127.0.0.1:$proxy_port/healthz"

dotnet "$bench" run \
  --relay "http://127.0.0.1:$relay_port" \
  --direct "http://127.0.0.1:$mock_port" \
  --proxy "http://127.0.0.1:$proxy_port" \
  --pids "relay=$relay_pid,proxy=$proxy_pid,upstream=$mock_pid" \
  --out "$report" \
  --note "nproc: $(nproc); .NET SDK $(dotnet --version)" \
  --note "MockUpstream flags: $mock_flags" \
  --note "Command: bash bench/run.sh $*" \
  "$@"

# Optional cross-check of (b) with a generator that costs far less CPU per request than .NET's
# HttpClient: if wrk is installed (apt-get install -y wrk), measure the in-process simulator again.
if command -v wrk >/dev/null; then
  echo "[run.sh] wrk cross-check: relay in-process simulator, 10 s, 2 threads, 64 connections" >&2
  wrk_out="$(wrk -t2 -c64 -d10s --latency -s bench/wrk-chat.lua "http://127.0.0.1:$relay_port/v1/chat/completions" -- mock-fast sk-bench-key)"
  {
    echo "## Cross-check with wrk"
    echo
    echo "Relay in-process simulator (model mock-fast), non-streaming, \`wrk -t2 -c64 -d10s --latency\`, same machine:"
    echo
    echo '```'
    echo "$wrk_out"
    echo '```'
  } | tee -a "$report"
fi

if grep -q . "$work/silo.log"; then
  echo "[run.sh] silo warnings/errors during the run:" >&2
  tail -n 20 "$work/silo.log" >&2
fi
