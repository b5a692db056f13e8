#!/usr/bin/env bash
# Benchmark of the metadata service: a release build of examples/metadata-serve.rs on a
# SQLite store of 10,000 Hardware (the first at 127.0.0.1), loaded by wrk over loopback
# from 127.0.0.1 (so every request is identified as that one machine).
#
# Prints requests/s and latency percentiles (wrk --latency) for the hot path
# /2009-04-04/meta-data/hostname and, shorter, for /metadata and the meta-data/ listing,
# plus the service's peak RSS (VmHWM). Traffic stays on 127.0.0.1.
#
# Environment: CARGO_TARGET_DIR (default <repo>/target), DURATION (default 15s),
# CONNECTIONS (default 64), THREADS (default 2), PORT (default 17172), COUNT (10000).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
duration=${DURATION:-15s}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
port=${PORT:-17172}
count=${COUNT:-10000}

for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done

(cd "$repo" && CARGO_TARGET_DIR=$target cargo build --release -p ironbell-metadata --example metadata-serve)
bin=$target/release/examples/metadata-serve

work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

base=http://127.0.0.1:$port
"$bin" "$work/store.db" "127.0.0.1:$port" --generate "$count" --exit
start=$(date +%s.%N)
"$bin" "$work/store.db" "127.0.0.1:$port" 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 600); do
    if curl -sf "$base/healthz" >/dev/null 2>&1; then break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done
ready=$(date +%s.%N)
curl -sf "$base/healthz" >/dev/null
echo "store of $count Hardware listed and indexed, service ready in $(echo "$ready - $start" | bc) s"
echo "hostname served to 127.0.0.1: $(curl -sf "$base/2009-04-04/meta-data/hostname")"
echo "RSS after sync: $(grep VmRSS /proc/$pid/status | awk '{print $2, $3}')"

run() {
    local path=$1 dur=$2
    echo
    echo "== wrk -t$threads -c$connections -d$dur --latency $path"
    wrk -t"$threads" -c"$connections" -d"$dur" --latency "$base$path" | tee "$work/wrk.txt"
    local rps p99
    rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
    echo "RESULT $path requests/s=$rps p99=$p99"
}

run /2009-04-04/meta-data/hostname "$duration"
run /2009-04-04/meta-data/ 5s
run /metadata 5s

echo
echo "service peak RSS (VmHWM): $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"
non200=$(curl -s "$base/metrics" | awk '/^ironbell_metadata_http_requests_total/ && $0 !~ /status="200"/' || true)
if [ -n "$non200" ]; then echo "non-200 answers during the run:"; echo "$non200"; fi
