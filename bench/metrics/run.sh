#!/usr/bin/env bash
# Issue 14's benchmark: what the metrics cost on the hot path (the RelayCluster meter recorded at every settle, the
# ASP.NET Core, HttpClient, Orleans and runtime meters behind a Prometheus exporter; no OTLP, so no tracing). This
# checkout beside the build before it (BASE_REV, default c557618), both embedded, in the same rounds, on one
# MockUpstream, with the bare .NET proxy as the control. Reports server CPU per request (closed loop, c=20) and added
# latency (open loop), non-streaming and streaming, in bench/results/metrics.md. A Prometheus scrape of the relay every
# 15 s runs alongside, as in production. About 5 minutes (plus the base's build, the first time).
#   bash bench/metrics/run.sh [generator options, e.g. --closed-duration 40 --closed-rounds 4]
# Env: BASE_REV; BASE_CACHE (see build_base in bench/common.sh).
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
report="bench/results/metrics.md"

build_and_copy
start_relay_beside_base "${BASE_REV:-c557618}"

# A scraper, as Prometheus would be: every 15 s, with the admin key.
( while true; do curl -s -o /dev/null -H "Authorization: Bearer $admin_key" "${url[relay]}/metrics"; sleep 15; done ) &
pids+=("$!")

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
  --note "Command: bash bench/metrics/run.sh $*; /metrics of relay scraped every 15 s" \
  "$@" >/dev/null
cat "$report"
