#!/usr/bin/env bash
# Issue 16's benchmark: what a relayed request costs the server, beside what a bare .NET proxy costs, in one run on this
# machine. Servers: MockUpstream (answers at once, 16 tokens), the bare proxy (bench/RelayCluster.Bench.Proxy), the same
# proxy as three more processes ("bare proxy ×3", requests to the three in turn: the control for the cluster's topology,
# closed loop only), the relay embedded (Relay__Store=memory), a 3-silo cluster on one redis-server (Relay__Store=redis,
# AOF, fsync every second; requests to the three in turn), and the base build (BASE_REV, default d6909a6, where issue 16 started) embedded and, in
# the full mode, as a 3-silo cluster too: before and after measured in the same rounds. For each, non-streaming and
# streaming (16 chunks): closed loop at c=20 through MockUpstream (model remote-fast): req/s, server CPU µs per request
# (/proc utime+stime ÷ requests; a cluster's silos, and the bare proxy ×3's processes, added up), redis-server µs per
# request, bytes allocated per request (the server's GC.GetTotalAllocatedBytes from its /metrics around each window) and
# the ratio to the bare proxy (and, for the cluster, to the bare proxy ×3); then
# the embedded relays at 500 req/s open loop: added latency (relay − direct). Targets take turns in alternating rounds.
# Writes bench/results/hotpath.md (summary first: figure | target | base | new | verdict), also printed.
#   bash bench/hotpath/run.sh [--short] [generator options…]   # full ≈ 10–11 min, --short ≈ 4 min (+ builds)
# Env: BASE_REV; BASE_CLUSTER (1 = also the base build's cluster; default 1, 0 with --short); BASE_CACHE (see
# build_base in bench/common.sh: the base's build is kept for the next run).
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
report="bench/results/hotpath.md"
command_line="bash bench/hotpath/run.sh $*"
short=0
if [ "${1:-}" = --short ]; then
  short=1
  shift
fi
started="$(date -u '+%Y-%m-%d %H:%M') UTC"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
busy_before="$(busy)"
seconds_before="$SECONDS"

# --- builds ---------------------------------------------------------------------------------------------------------------
build_and_copy
build_base "${BASE_REV:-d6909a6}"
base_cluster="${BASE_CLUSTER:-$((1 - short))}"

# --- servers --------------------------------------------------------------------------------------------------------------
start_mock
# The bare proxy ×3 first, each instance's url and pid kept (start_proxy sets proxy_url and proxy_pid), then the one-process
# bare proxy last, so proxy_url and proxy_pid are the control's.
proxies_url=() proxies_pid=()
for i in 1 2 3; do
  start_proxy "proxy3-$i"
  proxies_url+=("$proxy_url")
  proxies_pid+=("$proxy_pid")
done
proxies="$(IFS=+; echo "${proxies_url[*]}")"
start_proxy
start_redis
key=sk-bench-3f9c1a7e5b2d8c4f6a0e9b1d # a cluster refuses tenant keys shorter than 24 characters
silo_config "$key"
new_dll="$work/RelayCluster.Silo/RelayCluster.Silo.dll"
base_dll="$work/RelayCluster.Silo.base/RelayCluster.Silo.dll"
start_silo embedded "$new_dll" Relay__Store=memory
start_silo embedded-base "$base_dll" Relay__Store=memory
for i in 1 2 3; do
  start_silo "cluster$i" "$new_dll" Relay__Store=redis Relay__Redis="127.0.0.1:$redis_port"
done
relays="embedded=${url[embedded]},embedded-base=${url[embedded-base]},cluster=${url[cluster1]}+${url[cluster2]}+${url[cluster3]}"
silo_pids="silo-embedded=${pid[embedded]},silo-embedded-base=${pid[embedded-base]},silo-cluster=${pid[cluster1]}+${pid[cluster2]}+${pid[cluster3]}"
alloc="silo-embedded=${url[embedded]},silo-embedded-base=${url[embedded-base]},silo-cluster=${url[cluster1]}+${url[cluster2]}+${url[cluster3]},proxy=$proxy_url,proxy3=$proxies"
if [ "$base_cluster" = 1 ]; then
  # The base build's cluster apart from the new one on the same redis-server: its own Orleans cluster and service ids, and
  # its keys in database 1 (so neither fences the other's tenant grain).
  for i in 1 2 3; do
    start_silo "cluster-base$i" "$base_dll" Relay__Store=redis Relay__Redis="127.0.0.1:$redis_port,defaultDatabase=1" \
      Relay__Orleans__ClusterId=relay-base Relay__Orleans__ServiceId=relaycluster-base
  done
  relays="$relays,cluster-base=${url[cluster-base1]}+${url[cluster-base2]}+${url[cluster-base3]}"
  silo_pids="$silo_pids,silo-cluster-base=${pid[cluster-base1]}+${pid[cluster-base2]}+${pid[cluster-base3]}"
  alloc="$alloc,silo-cluster-base=${url[cluster-base1]}+${url[cluster-base2]}+${url[cluster-base3]}"
fi
wait_for "$mock_url/v1/models"
wait_for "$proxy_url/healthz"
for proxy in "${proxies_url[@]}"; do
  wait_for "$proxy/healthz"
done
for name in "${!url[@]}"; do
  wait_for "${url[$name]}/readyz" 120
done

if [ "$short" = 1 ]; then
  flags=(--closed-duration 8 --closed-rounds 2 --closed-warmup 3 --duration 6 --rounds 2 --warmup 2)
else
  flags=(--closed-duration 20 --closed-rounds 4 --closed-warmup 4 --duration 12 --rounds 2 --warmup 2)
fi
summary="$work/summary.md"
touch "$summary"

# --- the load: closed loop first (it also finishes the silos' JIT tiering), then the open loop -----------------------------
dotnet "$bench" run \
  --relays "$relays" \
  --open-relays embedded,embedded-base \
  --direct "$mock_url" \
  --proxy "$proxy_url" \
  --proxies "$proxies" \
  --redis "127.0.0.1:$redis_port" \
  --pids "$silo_pids,proxy=$proxy_pid,proxy3=$(IFS=+; echo "${proxies_pid[*]}"),upstream=$mock_pid,redis-server=$redis_pid" \
  --alloc "$alloc" --alloc-key "$admin_key" \
  --key "$key" --closed-first true --closed-model remote-fast --closed-streaming true --closed-proxy true \
  --concurrency 20 --rate 500 --trace-duration 0 \
  --verdicts hotpath --summary "$summary" --out "$work/run.md" \
  --note "nproc: $(nproc); .NET SDK $(dotnet --version); $(redis-server --version | cut -d' ' -f1-3)" \
  --note "MockUpstream flags: $mock_flags; redis-server flags: $redis_flags" \
  --note "bare proxy: one process; bare proxy ×3: three more processes of the same proxy, requests to the three in turn (closed loop only)" \
  --note "embedded / embedded-base: one silo each, Relay__Store=memory; cluster$([ "$base_cluster" = 1 ] && echo ' / cluster-base'): three silos each, Relay__Store=redis on the one redis-server$([ "$base_cluster" = 1 ] && echo ' (the base in database 1, its own Orleans cluster id)'), requests to the three in turn" \
  "${flags[@]}" "$@" >/dev/null

# --- the report -----------------------------------------------------------------------------------------------------------
elapsed=$((SECONDS - seconds_before))
subject() { git log -1 --format='%h "%s"' "$1" | awk '{ print (length > 100 ? substr($0, 1, 99) "…\"" : $0) }'; }
busy_share="$(awk -v b="$busy_before" -v a="$(busy)" -v s="$elapsed" 'BEGIN{printf "%.0f", (a-b)/s}')"
{
  echo "# Issue 16 benchmark: the hot path's CPU per request, beside a bare .NET proxy"
  echo
  echo "Run at $started by \`${command_line% }\` in $((elapsed / 60)) min $((elapsed % 60)) s ($([ "$short" = 1 ] && echo 'short mode: few and short windows, read the figures as indications' || echo 'full mode'))."
  echo
  echo "- New build: this checkout, $(subject HEAD)$(git diff --quiet HEAD -- src || echo ' (with uncommitted changes in src/)')"
  echo "- Base build: $(subject "$base_rev") (BASE_REV), built from \`git archive\`"
  echo "- Machine: $(nproc) cores, shared with other sessions: load average $load_before before the run, $(cut -d' ' -f1-3 /proc/loadavg) after; the whole machine was busy $busy_share % of one core on average over the run (builds and this run's processes included). The *other* figures below are the noise during the measured windows."
  tail -n +5 "$work/run.md" # the generator's report, from its list of the machine's details on
} >"$report"
cat "$report"
stop_silos hotpath
