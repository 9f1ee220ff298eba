#!/usr/bin/env bash
# Where a relayed request's CPU goes, in µs per request by component, beside the bare proxy: `perf record` of the server
# (all its threads, kernel included) under the closed loop at c=20 through MockUpstream, each sample given to the innermost
# frame of a known component (bench/hotpath/categories.js). The relay's JIT-compiled frames are named through the runtime's
# perf map (DOTNET_PerfMapEnabled=1; W^X off so the code is not in an anonymous double mapping).
#   bash bench/hotpath/profile.sh [proxy|embedded|cluster] [streaming]     # ≈ 2 min (cluster ≈ 4 min), + a build
# Needs perf (apt-get install -y linux-perf) and node. Writes $OUT (default /tmp/relay-profile)/MODE[-streaming].{perf,txt}.
# Env: WARM (seconds of load before recording; default 40, 150 for a cluster: three silos on two cores take that long
# to finish tiered compilation), SECONDS_RECORDED (default 10).
# Why perf and not `dotnet-trace collect`: EventPipe's sampler samples every managed thread, running or waiting, so idle
# thread-pool threads fill the profile; `dotnet-trace collect-linux` needs the kernel's user_events, which this machine's
# kernel lacks.
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
set +o pipefail # perf report | head
mode=${1:-embedded}
streaming=false
[ "${2:-}" = streaming ] && streaming=true
command -v perf >/dev/null || { echo "[profile] perf is not installed (apt-get install -y linux-perf)" >&2; exit 1; }
out="${OUT:-/tmp/relay-profile}"
mkdir -p "$out"
name=$mode
[ "$streaming" = false ] || name="$mode-streaming"
recorded=${SECONDS_RECORDED:-10}
warm=${WARM:-40}
[ "$mode" != cluster ] || warm=${WARM:-150}

build_and_copy
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 # for every process this script starts: names in the profile
start_mock
key=sk-bench-3f9c1a7e5b2d8c4f6a0e9b1d
silo_config "$key"
dll="$work/RelayCluster.Silo/RelayCluster.Silo.dll"
model=remote-fast
case "$mode" in
  proxy)
    start_proxy
    wait_for "$proxy_url/healthz"
    relays="relay=$proxy_url" targets="$proxy_pid" model=mock-fast # the proxy passes the body on: the upstream's own model name
    ;;
  embedded)
    start_silo relay "$dll" Relay__Store=memory
    relays="relay=${url[relay]}" targets="${pid[relay]}"
    ;;
  cluster)
    start_redis
    for i in 1 2 3; do
      start_silo "silo$i" "$dll" Relay__Store=redis Relay__Redis="127.0.0.1:$redis_port"
    done
    relays="relay=${url[silo1]}+${url[silo2]}+${url[silo3]}" targets="${pid[silo1]},${pid[silo2]},${pid[silo3]}"
    ;;
  *) echo "usage: bash bench/hotpath/profile.sh [proxy|embedded|cluster] [streaming]" >&2; exit 2 ;;
esac
wait_for "$mock_url/v1/models"
for n in "${!url[@]}"; do
  wait_for "${url[$n]}/readyz" 120
done

# With streaming the closed loop runs the plain requests first, then the streamed ones, each for the whole duration.
duration=$((warm + recorded + 5))
skip=0
[ "$streaming" = false ] || skip=$((duration + 1))
dotnet "$bench" run --relays "$relays" --direct "$mock_url" --key "$key" --closed-first true --closed-model "$model" \
  --closed-streaming "$streaming" --concurrency 20 --closed-duration "$duration" --closed-warmup 1 --closed-rounds 1 \
  --duration 1 --rounds 1 --warmup 0 --streaming false --trace-duration 0 --out "$work/run.md" >/dev/null 2>&1 &
generator=$!
sleep $((skip + warm))
echo "[profile] recording $name for $recorded s" >&2
perf record -F 1999 -g -o "$out/$name.perf" -p "$targets" -- sleep "$recorded" 2>"$work/perf.log" >/dev/null
wait "$generator" || true

# Requests per second of the recorded phase, from the generator's closed-loop table.
# (The proxy's model is the simulator's name, so its row says "in-process simulator".)
rate=$(awk -F'|' -v streaming="$streaming" '{ t = $2; gsub(/^ +| +$/, "", t) }
  t ~ /^relay \(relay\), / && (t ~ /, streaming$/) == (streaming == "true") && $3 ~ /^ *[0-9]+ *$/ { gsub(/ /, "", $3); print $3; exit }' \
  "$work/run.md")
[ -n "$rate" ] || { echo "[profile] no closed-loop rate in the generator's report" >&2; cat "$work/run.md" >&2; exit 1; }
perf script -i "$out/$name.perf" 2>/dev/null |
  node "$root/bench/hotpath/categories.js" --hz 1999 --requests "$((rate * recorded))" |
  tee "$out/$name.txt"
echo "[profile] $name: $rate req/s; perf data in $out/$name.perf (perf report -i …)" >&2
