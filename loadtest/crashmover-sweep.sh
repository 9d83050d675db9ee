#!/usr/bin/env bash
# How CRASHMOVER_CONCURRENT_CRASHMOVERS and CRASHMOVER_QUEUE_CAPACITY trade latency for
# throughput, against a real S3-protocol server (s3s-fs) on loopback. Bounded runs,
# loopback only. Needs the s3s-fs binary:
#   cargo install s3s-fs --version 0.14.1 --features binary --locked
#
#   loadtest/crashmover-sweep.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-10}"
WORK="$(mktemp -d /tmp/antenna-sweep.XXXXXX)"
S3_PID=""; SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

S3S_FS="$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")"
[ -x "$S3S_FS" ] || { echo "s3s-fs is not installed: cargo install s3s-fs --version 0.14.1 --features binary --locked" >&2; exit 1; }
cargo build --release --workspace --quiet
LOADTEST=target/release/antenna-loadtest
"$LOADTEST" synth --out "$WORK/corpus" --count 50 --size 409600 --corpus testdata
mkdir -p "$WORK/s3/crashes"
"$S3S_FS" --host 127.0.0.1 --port 18790 --access-key k --secret-key s "$WORK/s3" > /dev/null 2>&1 &
S3_PID=$!
sleep 1

for movers in 1 2 8 32; do
    for capacity in 4 256; do
        env ANTENNA_HOST=127.0.0.1 ANTENNA_PORT=18791 BREAKPAD_THROTTLER_RULES=accept_all LOGGING_LEVEL=WARNING \
            CRASHMOVER_CRASHSTORAGE_CLASS=s3 CRASHMOVER_CRASHSTORAGE_BUCKET_NAME=crashes \
            CRASHMOVER_CRASHSTORAGE_ENDPOINT_URL=http://127.0.0.1:18790 \
            CRASHMOVER_CRASHSTORAGE_ACCESS_KEY=k CRASHMOVER_CRASHSTORAGE_SECRET_ACCESS_KEY=s \
            CRASHMOVER_CONCURRENT_CRASHMOVERS=$movers CRASHMOVER_QUEUE_CAPACITY=$capacity \
            CRASHMOVER_SPOOL_DIR="$WORK/spool" \
            target/release/antenna > "$WORK/server.log" 2>&1 &
        SERVER_PID=$!
        for _ in $(seq 100); do
            curl -sf http://127.0.0.1:18791/__lbheartbeat__ >/dev/null 2>&1 && break
            sleep 0.1
        done
        echo "### crashmovers=$movers queue capacity=$capacity (per acceptor)"
        "$LOADTEST" run --url http://127.0.0.1:18791/submit --corpus "$WORK/corpus" --quiet \
            --connections 64 --count 1000000 --duration "$SECONDS_PER_RUN" --server-pid "$SERVER_PID" \
            | grep -E "requests in|latency"
        kill "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""
        rm -rf "$WORK/s3/crashes/v1"
    done
done
