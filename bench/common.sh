# Shared by the benchmark scripts (sourced, not run): a private work directory, cleanup of every process the script
# starts (their pids go in `pids`), a Release build and private copies of the binaries, the base build of another commit,
# and the servers every benchmark starts the same way:
#   build_and_copy                    Release build of this checkout; sets $bench (the generator's DLL)
#   build_base REV                    the silo of commit REV (git archive, cached) in $work/RelayCluster.Silo.base; sets $base_rev
#   port                              a free loopback port
#   start_mock [FLAGS…]               MockUpstream (default $mock_flags); sets $mock_port, $mock_pid, $mock_url
#   start_proxy [NAME]                the bare proxy in front of MockUpstream, logging to $work/NAME.log (default proxy);
#                                     sets $proxy_port, $proxy_pid, $proxy_url
#   start_redis                       a private redis-server (AOF, fsync every second); sets $redis_port, $redis_pid
#   silo_config KEY                   fills the array silo_env with what every benchmark silo shares (tenant key KEY)
#   start_silo NAME DLL [ENV=VALUE…]  a silo on a free port, logging to $work/NAME.log; sets url[NAME], pid[NAME]
#   wait_for URL [SECONDS]            waits for URL to answer 2xx
#   start_relay_beside_base REV       MockUpstream, the proxy and silos `relay` and `relay-base` (REV), all waited for
#   stop_silos TAG                    the silos' last warnings, then the silos stopped (before Redis)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
pids=()

cleanup() {
  local status=$?
  if [ "$status" -ne 0 ] && compgen -G "$work/*.log" >/dev/null; then
    echo "[bench] failed ($status); server logs:" >&2
    tail -n 40 "$work"/*.log >&2
  fi
  # At most 20 s for all of them to stop, then SIGKILL for any still running: an Orleans silo whose Redis stopped with
  # it can wait on its membership table for minutes. (run-orleans.sh stops its silos before Redis when it ends normally.)
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 200); do
    local alive=0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Builds Release and copies the servers and the generator to $work, so that a build started elsewhere
# during the run cannot overwrite the DLLs under a running server. Sets $bench, the generator's DLL.
build_and_copy() {
  echo "[bench] building (Release)" >&2
  dotnet build -c Release -nologo -v q RelayCluster.sln >&2
  for project in RelayCluster.Bench RelayCluster.Bench.Proxy; do
    dotnet build -c Release -nologo -v q "bench/$project/$project.csproj" >&2
  done

  for app in RelayCluster.MockUpstream RelayCluster.Silo; do
    cp -r "src/$app/bin/Release/net10.0" "$work/$app"
  done
  for app in RelayCluster.Bench RelayCluster.Bench.Proxy; do
    cp -r "bench/$app/bin/Release/net10.0" "$work/$app"
  done
  bench="$work/RelayCluster.Bench/RelayCluster.Bench.dll"
}

# wait_for URL [SECONDS]: waits (at most SECONDS, default 20) for URL to answer 2xx; exits with the logs otherwise.
wait_for() {
  local tries=$((${2:-20} * 5))
  for _ in $(seq 1 "$tries"); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.2
  done
  echo "[bench] $1 did not come up; logs:" >&2
  cat "$work"/*.log >&2
  exit 1
}

# A free loopback port, from the generator (after build_and_copy).
port() { dotnet "$bench" free-port; }

# build_base REV: the silo of commit REV, built Release from `git archive` (no worktree is added), copied to
# $work/RelayCluster.Silo.base; sets $base_rev (the full commit id). A commit never changes, so its build is kept in
# $BASE_CACHE/<commit> (default /tmp/relay-bench-base) for the next run: rm -rf that directory to build it again.
build_base() {
  local rev cache src staging
  rev="$(git rev-parse "$1^{commit}")"
  cache="${BASE_CACHE:-/tmp/relay-bench-base}/$rev"
  if [ -f "$cache/silo/RelayCluster.Silo.dll" ]; then
    echo "[bench] base $(git log -1 --format=%h "$rev"): the build kept in $cache" >&2
  else
    echo "[bench] building the base $(git log -1 --format=%h "$rev") (Release, from git archive)" >&2
    src="$work/base-src"
    rm -rf "$src"
    mkdir -p "$src" "$(dirname "$cache")"
    git archive "$rev" | tar -x -C "$src"
    dotnet build -c Release -nologo -v q "$src/src/RelayCluster.Silo/RelayCluster.Silo.csproj" >&2
    # Staged then renamed, so a run stopped midway or another run building the same commit never leaves half a build.
    staging="$(mktemp -d "$(dirname "$cache")/.staging.XXXXXX")"
    cp -r "$src/src/RelayCluster.Silo/bin/Release/net10.0" "$staging/silo"
    mv -T "$staging" "$cache" 2>/dev/null || rm -rf "$staging"
    rm -rf "$src"
  fi
  cp -r "$cache/silo" "$work/RelayCluster.Silo.base"
  base_rev="$rev"
}

# What every benchmark's MockUpstream does: answers at once, 16 tokens (16 chunks when streaming).
mock_flags="--ttft-ms 0 --interval-ms 0 --tokens 16"

# start_mock [FLAGS…]: MockUpstream on a free port with FLAGS (default $mock_flags).
start_mock() {
  mock_port="$(port)"
  mock_url="http://127.0.0.1:$mock_port"
  local flags=("$@")
  # shellcheck disable=SC2206 # mock_flags is a list of flags on purpose
  [ ${#flags[@]} -gt 0 ] || flags=($mock_flags)
  dotnet "$work/RelayCluster.MockUpstream/RelayCluster.MockUpstream.dll" --port "$mock_port" "${flags[@]}" >"$work/mock.log" 2>&1 &
  pids+=("$!")
  mock_pid="$!"
}

# start_proxy [NAME]: the bare pass-through proxy (bench/RelayCluster.Bench.Proxy) in front of MockUpstream (after
# start_mock), logging to $work/NAME.log (default proxy: a script starting several names each, or they share one log).
start_proxy() {
  proxy_port="$(port)"
  proxy_url="http://127.0.0.1:$proxy_port"
  dotnet "$work/RelayCluster.Bench.Proxy/RelayCluster.Bench.Proxy.dll" --urls "$proxy_url" \
    --upstream "$mock_url/v1/" >"$work/${1:-proxy}.log" 2>&1 &
  pids+=("$!")
  proxy_pid="$!"
}

# The flags start_redis gives redis-server beyond port, address and directory (for the reports' notes).
redis_flags="--save '' --appendonly yes --appendfsync everysec"

# start_redis: the run's own redis-server on a free loopback port: AOF on, fsync every second, no RDB snapshots, data in
# $work/redis. Waits (at most 5 s) for its PONG.
start_redis() {
  command -v redis-server >/dev/null || { echo "[bench] redis-server is not installed (apt-get install -y redis-server)" >&2; exit 1; }
  redis_port="$(port)"
  mkdir -p "$work/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec --dir "$work/redis" \
    >"$work/redis.log" 2>&1 &
  pids+=("$!")
  redis_pid="$!"
  for _ in $(seq 1 50); do
    [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  echo "[bench] redis-server on port $redis_port did not answer PONG" >&2
  exit 1
}

# The silos' admin key (also the bearer for their /metrics).
admin_key=admin-bench-7e3a9c1f5d2b8e4a

# silo_config KEY: fills silo_env with the configuration every benchmark silo shares (after start_mock): model mock-fast on
# the in-process simulator, remote-fast through MockUpstream (upstream name mock-fast), one tenant `bench` with key KEY and
# no limits, so a run measures the relay path, not the rate limiter saying no. A script appends its own settings to silo_env.
# (`env` starts the silos because model names with a dash are not shell variable names.)
silo_config() {
  silo_env=(
    Logging__LogLevel__Default=Warning
    Relay__AdminKey="$admin_key"
    Relay__Providers__sim__Type=simulator
    Relay__Providers__mock__Type=openai
    Relay__Providers__mock__BaseUrl="$mock_url/v1"
    Relay__Models__mock-fast__Provider=sim
    Relay__Models__remote-fast__Provider=mock
    Relay__Models__remote-fast__UpstreamModel=mock-fast
    Relay__Tenants__bench__Keys__0="$1"
  )
}

declare -A url=() pid=()
# start_silo NAME DLL [ENV=VALUE…]: a silo (DLL) with silo_env and then ENV on a free port, its usage log in $work/usage-NAME.
start_silo() {
  local name=$1 dll=$2 http
  shift 2
  http="$(port)"
  env "${silo_env[@]}" Relay__UsageLog__Path="$work/usage-$name" "$@" \
    dotnet "$dll" --urls "http://127.0.0.1:$http" >"$work/$name.log" 2>&1 &
  pids+=("$!")
  pid[$name]="$!"
  url[$name]="http://127.0.0.1:$http"
}

# start_relay_beside_base REV: a this-build-beside-its-base comparison's servers, all waited for: MockUpstream, the bare
# proxy, and two embedded silos with the shared configuration, `relay` (this checkout) and `relay-base` (REV's build).
start_relay_beside_base() {
  build_base "$1"
  start_mock
  start_proxy
  silo_config sk-bench-key
  start_silo relay "$work/RelayCluster.Silo/RelayCluster.Silo.dll"
  start_silo relay-base "$work/RelayCluster.Silo.base/RelayCluster.Silo.dll"
  wait_for "$mock_url/v1/models"
  wait_for "$proxy_url/healthz"
  wait_for "${url[relay]}/healthz"
  wait_for "${url[relay-base]}/healthz"
}

# stop_silos TAG: prints the last warnings any silo logged (TAG names the script), then stops the silos and waits (at most
# 20 s each) for them to go, while Redis still answers: each silo leaves its Orleans cluster in a few seconds, which it
# cannot do once Redis is gone. cleanup stops the rest.
stop_silos() {
  local name count
  for name in "${!url[@]}"; do
    count="$(grep -cE '^(warn|fail|crit):' "$work/$name.log" || true)"
    if [ "$count" -gt 0 ]; then
      echo "[$1] $name logged $count warnings/errors; the last:" >&2
      grep -A1 -E '^(warn|fail|crit):' "$work/$name.log" | tail -n 4 >&2
    fi
  done
  for name in "${!pid[@]}"; do
    kill "${pid[$name]}" 2>/dev/null || true
  done
  for name in "${!pid[@]}"; do
    for _ in $(seq 1 200); do kill -0 "${pid[$name]}" 2>/dev/null || break; sleep 0.1; done
  done
}
