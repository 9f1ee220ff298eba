#!/usr/bin/env bash
# Runs every test suite (xunit: unit + host tests; Node: the official openai SDK against a running silo)
# and ends with one line "N passed, N failed" summing them. Exit status is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")"
export RELAY_BUILD_CONFIG="${RELAY_BUILD_CONFIG:-Release}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

passed=0
failed=0
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

echo "== build ($RELAY_BUILD_CONFIG)"
if ! dotnet build RelayCluster.sln -c "$RELAY_BUILD_CONFIG" -nologo -clp:ErrorsOnly; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== xunit: unit and host tests"
dotnet test RelayCluster.sln -c "$RELAY_BUILD_CONFIG" --no-build -nologo 2>&1 | tee "$log_dir/dotnet.log"
dotnet_status=${PIPESTATUS[0]}
# One summary line per test assembly: "Passed!  - Failed:     0, Passed:   107, Skipped: ..."
summary=$(grep -E '(Passed|Failed)! +- +Failed: +[0-9]+, +Passed: +[0-9]+' "$log_dir/dotnet.log" || true)
if [ -n "$summary" ]; then
  passed=$((passed + $(echo "$summary" | sed -E 's/.*Passed: +([0-9]+).*/\1/' | awk '{s+=$1} END {print s+0}')))
  failed=$((failed + $(echo "$summary" | sed -E 's/.*Failed: +([0-9]+), +Passed.*/\1/' | awk '{s+=$1} END {print s+0}')))
fi
if [ "$dotnet_status" -ne 0 ] && ! echo "$summary" | grep -q 'Failed!'; then
  failed=$((failed + 1)) # the test host itself failed: count it, since no summary says so
fi

echo "== node: conformance with the official openai SDK"
( cd tests/conformance && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test ) 2>&1 | tee "$log_dir/node.log"
node_status=${PIPESTATUS[0]}
node_pass=$(grep -E '^. pass [0-9]+' "$log_dir/node.log" | tail -1 | grep -oE '[0-9]+' || true)
node_fail=$(grep -E '^. fail [0-9]+' "$log_dir/node.log" | tail -1 | grep -oE '[0-9]+' || true)
passed=$((passed + ${node_pass:-0}))
failed=$((failed + ${node_fail:-0}))
if [ "$node_status" -ne 0 ] && [ "${node_fail:-0}" -eq 0 ]; then
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
