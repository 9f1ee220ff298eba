#!/usr/bin/env bash
# Issue 13's benchmark: what wire fidelity (parameter validation, vetting every upstream answer, re-framing SSE, the
# prompt bound) costs on the hot path. This checkout beside the build before issue 13 (BASE_REV, default 070112d), both
# embedded, in the same rounds, on one MockUpstream, with the bare .NET proxy as the control. Reports server CPU per
# request (closed loop, c=20) and added latency (open loop), non-streaming and streaming, in bench/results/wire.md.
# About 5 minutes (the first run also builds the base: add 2).
#   bash bench/wire/run.sh [generator options, e.g. --closed-duration 40 --closed-rounds 4]
# Env: BASE_REV; BASE_CACHE (see build_base in bench/common.sh).
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
report="bench/results/wire.md"

build_and_copy
start_relay_beside_base "${BASE_REV:-070112d}"

dotnet "$bench" run \
  --relays "relay=${url[relay]},relay-base=${url[relay-base]}" \
  --direct "$mock_url" \
  --proxy "$proxy_url" \
  --pids "silo-relay=${pid[relay]},silo-relay-base=${pid[relay-base]},proxy=$proxy_pid,upstream=$mock_pid" \
  --key sk-bench-key --closed-first true --closed-model remote-fast --concurrency 20 --rate 500 --trace-duration 0 \
  --duration 10 --rounds 2 --warmup 2 --closed-duration 15 --closed-rounds 3 --closed-warmup 4 \
  --out "$report" \
  --note "nproc: $(nproc); .NET SDK $(dotnet --version); base: $(git log -1 --format='%h %s' "$base_rev" | cut -c1-80)" \
  --note "MockUpstream flags: $mock_flags; relay and relay-base embedded (Relay__Store=memory), one silo each" \
  --note "Command: bash bench/wire/run.sh $*" \
  "$@" >/dev/null
cat "$report"
