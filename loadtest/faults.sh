#!/usr/bin/env bash
# Fault runs (SPEC §9), bounded and on loopback only: kill -9 under load with fs storage and
# during an S3 outage, S3 down for 20 s under load, and the crash points of spool writes and
# drains. Each scenario is an integration test that asserts nothing answered is lost; this
# script runs them in a release build, one at a time, and prints one table.
#
#   loadtest/faults.sh            # all scenarios (about 2 minutes after the build)
#
# Columns: crashes answered CrashID=, answered crashes missing from storage afterwards,
# 5xx answers, crashes that went through the spool, time for the drain to put every
# answered crash in storage after the fault.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release --features antenna/fault-injection \
    --test durability --test crash_points -- --nocapture --test-threads 1 >"$log" 2>&1 || status=$?

printf '%-28s %9s %5s %5s %8s %10s\n' scenario answered lost 5xx spooled "drain (s)"
grep -o 'FAULTS|.*' "$log" | while IFS='|' read -r _ scenario answered lost five_xx spooled drain; do
    printf '%-28s %9s %5s %5s %8s %10s\n' "$scenario" "$answered" "$lost" "$five_xx" "$spooled" "$drain"
done
grep -E "^test result:" "$log" | sed "s/^/  /"
if [ "$status" -ne 0 ]; then
    echo "faults.sh: a fault scenario failed:" >&2
    grep -A20 'panicked' "$log" >&2 || tail -40 "$log" >&2
fi
exit "$status"
