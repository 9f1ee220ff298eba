# Shared by run.sh and run-stores.sh (sourced, not run): a private work directory, cleanup of every
# process the script starts (their pids go in `pids`), a Release build, private copies of the binaries,
# and waiting for a server to answer.
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

# Waits (at most 20 s) for a URL to answer 2xx.
wait_for() {
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.2
  done
  echo "[bench] $1 did not come up; logs:" >&2
  cat "$work"/*.log >&2
  exit 1
}
