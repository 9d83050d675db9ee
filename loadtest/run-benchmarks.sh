#!/usr/bin/env bash
# Reproduces the README's benchmark figures on this machine, in one run: the collector and
# the null sink under the same load, storage variants, runtime and allocator variants, the
# disk's own write rate, open-loop latency and memory. Every load is bounded in count and
# time and targets loopback only.
#
#   loadtest/run-benchmarks.sh [quick]      (quick: short runs, for CI)
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK="${1:-}"
DURATION=20; FS_DURATION=60; COUNT=200000
if [ "$QUICK" = quick ]; then DURATION=2; FS_DURATION=3; COUNT=2000; fi

WORK="$(mktemp -d /tmp/antenna-bench.XXXXXX)"
# Latency pictures (SVG percentile plots), one per measured section, kept after the run.
PLOTS=target/benchmarks
mkdir -p "$PLOTS"
SERVER_PID=""
S3_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --workspace --quiet
cargo build --release --no-default-features --bin antenna --quiet
cp target/release/antenna "$WORK/antenna-system-allocator"
cargo build --release --bin antenna --quiet
LOADTEST=target/release/antenna-loadtest
PORT=18700

"$LOADTEST" synth --out "$WORK/corpus-400k" --count 50 --size 409600 --corpus testdata
"$LOADTEST" synth --out "$WORK/corpus-mix" --count 300 --corpus testdata
"$LOADTEST" synth --out "$WORK/corpus-20m" --count 4 --size 20971520 --corpus testdata

# start_server BINARY NAME=VALUE...: starts the collector on $PORT, sets SERVER_PID.
start_server() {
    local binary="$1"; shift
    env ANTENNA_HOST=127.0.0.1 ANTENNA_PORT=$PORT BREAKPAD_THROTTLER_RULES=accept_all \
        CRASHMOVER_CRASHSTORAGE_FS_ROOT="$WORK/crashdata" CRASHMOVER_SPOOL_DIR="$WORK/spool" \
        "$@" "$binary" > "$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$PORT/__lbheartbeat__" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "collector did not start:"; cat "$WORK/server.log"; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""; }
load() { "$LOADTEST" run --url "http://127.0.0.1:$PORT/submit" --quiet --server-pid "$SERVER_PID" "$@"; }

echo "### 1. noop storage, 32 connections, 400 KB crashes, beside the null sink (per-core, mimalloc)"
start_server target/release/antenna CRASHMOVER_CRASHSTORAGE_CLASS=noop
load --corpus "$WORK/corpus-400k" --connections 32 --count $COUNT --duration $DURATION --sink-baseline --plot "$PLOTS/1-noop-vs-sink.svg" | tee "$WORK/closed.txt"
RATE=$(sed -n 's/.*in [0-9.]* s: \([0-9]*\) crashes\/s.*/\1/p' "$WORK/closed.txt" | tail -n 1)
echo "### 2. open loop at half that rate ($((RATE / 2))/s), noop"
load --corpus "$WORK/corpus-400k" --connections 64 --rate $((RATE / 2)) --count $COUNT --duration $DURATION --plot "$PLOTS/2-open-loop.svg"
echo "### 3. noop, gzip bodies"
load --corpus "$WORK/corpus-400k" --connections 32 --count $COUNT --duration $DURATION --gzip
echo "### 4. peak memory: 64 connections of 400 KB crashes"
load --corpus "$WORK/corpus-400k" --connections 64 --count $COUNT --duration $DURATION
echo "### 5. peak memory: 64 connections of 20 MB crashes"
load --corpus "$WORK/corpus-20m" --connections 64 --count $((COUNT / 50)) --duration $DURATION
stop_server

echo "### 6. shared multi-threaded runtime instead of per-core (noop, 32 connections)"
start_server target/release/antenna CRASHMOVER_CRASHSTORAGE_CLASS=noop ANTENNA_RUNTIME=shared
load --corpus "$WORK/corpus-400k" --connections 32 --count $COUNT --duration $DURATION
stop_server

echo "### 7. system allocator instead of mimalloc (noop, 32 connections)"
start_server "$WORK/antenna-system-allocator" CRASHMOVER_CRASHSTORAGE_CLASS=noop
load --corpus "$WORK/corpus-400k" --connections 32 --count $COUNT --duration $DURATION
stop_server

echo "### 8. the disk: dd bs=1M count=2048 conv=fdatasync"
dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=$([ "$QUICK" = quick ] && echo 64 || echo 2048) conv=fdatasync 2>&1 | tail -n 1
rm -f "$WORK/dd.bin"
# fs_count: how many 400 KB crashes an fs run may write. Sections 9 and 9a keep what they
# wrote (--check-fs reads every id back, 9b replays from it), and a fast disk fills a small
# one within the time bound, so each run also stops at 40% of the space still free.
fs_count() { local n=$(( $(df --output=avail -B1 "$WORK" | tail -n 1) * 2 / 5 / 409600 )); echo $(( n > 100 ? n : 100 )); }
FS_COUNT=$(fs_count)
echo "### 9. fs storage (fsync on: durable before the answer), 32 connections, 400 KB crashes, ${FS_DURATION} s or ${FS_COUNT} crashes (40% of the free space), every id checked on disk"
start_server target/release/antenna CRASHMOVER_CRASHSTORAGE_CLASS=fs
load --corpus "$WORK/corpus-400k" --connections 32 --count "$FS_COUNT" --duration $FS_DURATION --check-fs "$WORK/crashdata"
stop_server
FS_COUNT=$(fs_count)
echo "### 9a. the same with CRASHMOVER_CRASHSTORAGE_FS_FSYNC=false (${FS_DURATION} s or ${FS_COUNT} crashes)"
start_server target/release/antenna CRASHMOVER_CRASHSTORAGE_CLASS=fs CRASHMOVER_CRASHSTORAGE_FS_FSYNC=false
load --corpus "$WORK/corpus-400k" --connections 32 --count "$FS_COUNT" --duration $FS_DURATION --check-fs "$WORK/crashdata"
stop_server
echo "### 9b. stored crashes turned back into requests (from-fs) and replayed, JSON report"
# Twenty stored crashes, whole (raw crash, dump names, dump), as the replay source.
for day in "$WORK"/crashdata/*/; do
    copied=0
    for raw in "$day"raw_crash/*.json; do
        id=$(basename "$raw" .json)
        target="$WORK/replay-source/$(basename "$day")"
        mkdir -p "$target/raw_crash" "$target/dump_names" "$target/upload_file_minidump"
        cp "$raw" "$target/raw_crash/"
        cp "$day/dump_names/$id.json" "$target/dump_names/"
        cp "$day/upload_file_minidump/$id" "$target/upload_file_minidump/"
        copied=$((copied + 1))
        [ "$copied" -ge 20 ] && break
    done
    break
done
"$LOADTEST" from-fs --root "$WORK/replay-source" --out "$WORK/corpus-replay"
rm -rf "$WORK/crashdata"
start_server target/release/antenna CRASHMOVER_CRASHSTORAGE_CLASS=fs
load --corpus "$WORK/corpus-replay" --connections 8 --count 200 --duration 10 --check-fs "$WORK/crashdata" --json
stop_server
rm -rf "$WORK/crashdata"

echo "### 10. fs storage, production size mix (median 400 KB, tail to 20 MB), gzip"
start_server target/release/antenna CRASHMOVER_CRASHSTORAGE_CLASS=fs
load --corpus "$WORK/corpus-mix" --connections 32 --count $((COUNT / 10)) --duration $DURATION --gzip --check-fs "$WORK/crashdata"
stop_server

echo "### 11. storage side by side, same load, one run: noop, s3 (s3s-fs, its own process), fs with and without fsync"
echo "###     8 connections, 400 KB crashes; collector CPU and context switches per crash, and the ratio to noop"
STORAGE_DURATION=$([ "$QUICK" = quick ] && echo 3 || echo 20)
S3_PORT=18790
"$LOADTEST" s3-server --dir "$WORK/s3" --listen 127.0.0.1:$S3_PORT --threads 1 > "$WORK/s3.log" 2>&1 &
S3_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/s3.log" && break; sleep 0.1; done
S3_ENV=(CRASHMOVER_CRASHSTORAGE_CLASS=s3 CRASHMOVER_CRASHSTORAGE_BUCKET_NAME=crashes
    CRASHMOVER_CRASHSTORAGE_REGION=us-east-1 CRASHMOVER_CRASHSTORAGE_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
    CRASHMOVER_CRASHSTORAGE_ACCESS_KEY=antenna-bench CRASHMOVER_CRASHSTORAGE_SECRET_ACCESS_KEY=antenna-bench-secret)
# Each fs variant writes to its own directory, and nothing is deleted between variants:
# ext4's inode allocator is slow right after mass deletions (README, "The production
# path"), which would charge one variant for the previous one's cleanup.
for variant in noop s3 fs fs-nofsync; do
    root="CRASHMOVER_CRASHSTORAGE_FS_ROOT=$WORK/crashdata-$variant"
    case $variant in
        noop) start_server target/release/antenna CRASHMOVER_CRASHSTORAGE_CLASS=noop ;;
        s3) start_server target/release/antenna "${S3_ENV[@]}" ;;
        fs) start_server target/release/antenna CRASHMOVER_CRASHSTORAGE_CLASS=fs "$root" ;;
        fs-nofsync) start_server target/release/antenna CRASHMOVER_CRASHSTORAGE_CLASS=fs CRASHMOVER_CRASHSTORAGE_FS_FSYNC=false "$root" ;;
    esac
    load --corpus "$WORK/corpus-400k" --connections 8 --count $COUNT --duration $STORAGE_DURATION \
        --json --plot "$PLOTS/11-storage-$variant.svg" > "$WORK/storage-$variant.json"
    if grep -q "spooled" "$WORK/server.log"; then
        echo "$variant: crashes were spooled (storage failed during the run):"; grep -m 3 spooled "$WORK/server.log"; exit 1
    fi
    stop_server
done
kill "$S3_PID"; wait "$S3_PID" 2>/dev/null || true; S3_PID=""
# The S3 server on the same cores limits s3 to a fraction of noop's rate, and CPU per crash
# falls as load rises; so noop is also measured at s3's rate (open loop), the fair pair.
S3_RATE=$(python3 -c "import json,sys; print(max(1, int(json.load(open(sys.argv[1]))[-1]['crashes_per_s'] * 0.9)))" "$WORK/storage-s3.json")
start_server target/release/antenna CRASHMOVER_CRASHSTORAGE_CLASS=noop
load --corpus "$WORK/corpus-400k" --connections 8 --rate "$S3_RATE" --count $COUNT --duration $STORAGE_DURATION \
    --json --plot "$PLOTS/11-storage-noop-at-s3-rate.svg" > "$WORK/storage-noop-at-s3-rate.json"
stop_server
python3 - "$WORK" "$S3_RATE" <<'PY'
import json, sys
work, s3_rate = sys.argv[1], sys.argv[2]
names = ["noop", "s3", "fs", "fs-nofsync", "noop-at-s3-rate"]
runs = {v: json.load(open(f"{work}/storage-{v}.json"))[-1] for v in names}
noop = runs["noop"]["server_cpu_ms_per_crash"]
print("| storage | crashes/s | p99 ms | CPU ms/crash | × noop | context switches/crash |")
print("|---|---|---|---|---|---|")
for name, run in runs.items():
    cpu = run["server_cpu_ms_per_crash"]
    label = f"noop, open loop at {s3_rate}/s" if name == "noop-at-s3-rate" else name
    print(f"| {label} | {run['crashes_per_s']:.0f} | {run['latency_ms']['p99']:.1f} | {cpu:.3f} | {cpu / noop:.2f} | {run['server_ctx_switches_per_crash']:.1f} |")
same_rate = runs["noop-at-s3-rate"]["server_cpu_ms_per_crash"]
print(f"s3 / noop at the same rate: {runs['s3']['server_cpu_ms_per_crash'] / same_rate:.2f}x CPU per crash")
PY
echo "latency pictures: $PLOTS/*.svg"
