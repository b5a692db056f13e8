#!/usr/bin/env bash
# Benchmark of the metadata service: a release build of examples/metadata-serve.rs on a
# SQLite store of 10,000 Hardware (the first at 127.0.0.1), loaded by wrk over loopback
# from 127.0.0.1 (so every request is identified as that one machine).
#
# Prints requests/s and latency percentiles (wrk --latency) for the hot path
# /2009-04-04/meta-data/hostname and, shorter, for /metadata and the meta-data/ listing,
# plus the service's peak RSS (VmHWM). Traffic stays on 127.0.0.1.
#
# With WITH_NGINX=1, then the same requests against nginx serving the very bodies the service
# gave (fetched from it, checked equal) as static files, the practical ceiling for an HTTP
# answer: same wrk, connections and duration, one after the other, each server's own CPU
# time (utime + stime of all its processes) per request beside its requests/s and p99; a
# run where either answered anything but 200 or nothing at all fails. One line per path:
#   COMPARE path ironbell_rps nginx_rps ironbell_p99_ms nginx_p99_ms ironbell_cpu_us nginx_cpu_us
#           ironbell_wait nginx_wait wrk_wait_ironbell wrk_wait_nginx
# where a wait is the milliseconds per second that the server's threads (or wrk's) spent
# ready to run but waiting for a CPU (/proc schedstat run_delay, summed over threads): on
# a shared machine, the part of the p99 that is not the server's.
#
# Environment: CARGO_TARGET_DIR (default <repo>/target), DURATION (default 15s),
# CONNECTIONS (default 64), THREADS (default 2), PORT (default 17172), COUNT (10000),
# WITH_NGINX (0; not NGINX, which nginx itself reads), NGINX_PORT (17173),
# NGINX_WORKERS (2, the cores of the CI machine), COMPARE_ONLY (0; 1: only the comparison),
# PINNED (0; 1: then the comparison again with both servers on CPU 0 and wrk on CPU 1),
# PATHS (the paths compared; default the three above), BENCH_PROFILE (release; dev:
# scripts/lib/bench-build.sh).
# nginx: the installed one, else Debian's package unpacked here (not installed: no daemon).
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

. "$repo/scripts/lib/bench-build.sh"
bin=$(CARGO_TARGET_DIR=$target bench_build "$repo" -p ironbell-metadata --example metadata-serve)/examples/metadata-serve

work=$(mktemp -d)
pid=
nginx_pid=
cleanup() {
    for p in $pid $nginx_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
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

if [ "${COMPARE_ONLY:-0}" != 1 ]; then
    run /2009-04-04/meta-data/hostname "$duration"
    run /2009-04-04/meta-data/ 5s
    run /metadata 5s
fi

echo
echo "service peak RSS (VmHWM): $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"
non200=$(curl -s "$base/metrics" | awk '/^ironbell_metadata_http_requests_total/ && $0 !~ /status="200"/' || true)
if [ -n "$non200" ]; then echo "non-200 answers during the run:"; echo "$non200"; fi

[ "${WITH_NGINX:-0}" = 1 ] || exit 0

# --- the same bodies from nginx ----------------------------------------------------------
nginx_port=${NGINX_PORT:-17173}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx_bin" ]; then
    # Unpacked rather than installed: its maintainer scripts would start a daemon on :80.
    (cd "$work" && { apt-get download -q nginx >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null && apt-get download -q nginx >/dev/null; }; })
    dpkg -x "$work"/nginx_*.deb "$work/pkg"
    nginx_bin=$work/pkg/usr/sbin/nginx
fi
paths=${PATHS:-"/2009-04-04/meta-data/hostname /2009-04-04/meta-data/ /metadata"}
www=$work/www
for p in $paths; do
    f=$www$p
    case $p in */) f=${f}index.html ;; esac
    mkdir -p "$(dirname "$f")"
    curl -sf "$base$p" -o "$f"
done
mkdir -p "$work/tmp"
chmod -R a+rX "$work"
cat >"$work/nginx.conf" <<EOF
worker_processes ${NGINX_WORKERS:-2};
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    # Its own temporary directories: an unpacked nginx's built-in ones (/var/lib/nginx)
    # do not exist.
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$nginx_port;
        root $www;
        index index.html;
        location = /metadata { default_type application/json; }
    }
}
EOF
"$nginx_bin" -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$nginx_port/metadata" >/dev/null 2>&1 && break
    kill -0 "$nginx_pid" 2>/dev/null || { cat "$work/nginx-error.log" >&2; exit 1; }
    sleep 0.1
done
for p in $paths; do
    cmp -s <(curl -sf "$base$p") <(curl -sf "http://127.0.0.1:$nginx_port$p") ||
        { echo "nginx does not serve the service's body for $p" >&2; exit 1; }
done

# utime + stime, in clock ticks, of a process and its children (nginx's workers).
ticks() {
    local total=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)
# Nanoseconds the threads of a process and its children waited on a run queue, ready but
# without a CPU (schedstat's run_delay): the share of the tail that is the machine's.
run_wait() {
    local total=0 p t
    for p in "$1" $(pgrep -P "$1" || true); do
        for t in /proc/"$p"/task/*/schedstat; do
            total=$((total + $(awk '{ print $2 }' "$t" 2>/dev/null || echo 0)))
        done
    done
    echo "$total"
}
# One wrk run against a server: prints "requests/s p99_ms cpu_us_per_request
# server_wait wrk_wait", the waits in ms of run-queue wait per second (sampled while wrk
# runs). With $wrk_cpu set, wrk runs on that CPU only, with one thread.
wrk_cpu=
measure() {
    local url=$1 server_pid=$2 out=$work/wrk-$RANDOM.txt c0 c1 requests w s0 s1 k0 k1 t0 t1
    c0=$(ticks "$server_pid")
    if [ -n "$wrk_cpu" ]; then
        taskset -c "$wrk_cpu" wrk -t1 -c"$connections" -d"$duration" --latency "$url" >"$out" &
    else
        wrk -t"$threads" -c"$connections" -d"$duration" --latency "$url" >"$out" &
    fi
    w=$!
    sleep 0.5
    s0=$(run_wait "$server_pid") k0=$(run_wait "$w") t0=$(date +%s%N)
    local s k t
    while kill -0 "$w" 2>/dev/null; do
        s=$(run_wait "$server_pid") k=$(run_wait "$w") t=$(date +%s%N)
        # A sample counts only if wrk was still there after it (not half its threads).
        if kill -0 "$w" 2>/dev/null; then s1=$s k1=$k t1=$t; fi
        sleep 0.25
    done
    wait "$w"
    c1=$(ticks "$server_pid")
    if grep -q 'Non-2xx' "$out"; then echo "non-200 answers from $url:" >&2; cat "$out" >&2; exit 1; fi
    requests=$(awk '/requests in/ { print $1 }' "$out")
    [ "${requests:-0}" -gt 0 ] || { echo "no answer from $url" >&2; cat "$out" >&2; exit 1; }
    awk -v r="$requests" -v t=$((c1 - c0)) -v hz="$hz" -v sw=$((s1 - s0)) -v kw=$((k1 - k0)) -v dt=$((t1 - t0)) '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /^Requests\/sec/ { rps = $2 } $1 == "99%" { p99 = ms($2) }
        END { printf "%s %.2f %.1f %.0f %.0f\n", rps, p99, t * 1e6 / hz / r, sw / dt * 1000, kw / dt * 1000 }' "$out"
}
echo
echo "== against nginx serving the same bodies (wrk -t$threads -c$connections -d$duration)"
compare() { # tag
    local p ib_rps ib_p99 ib_cpu ib_wait ib_wrk ng_rps ng_p99 ng_cpu ng_wait ng_wrk
    for p in $paths; do
        read -r ib_rps ib_p99 ib_cpu ib_wait ib_wrk < <(measure "$base$p" "$pid")
        read -r ng_rps ng_p99 ng_cpu ng_wait ng_wrk < <(measure "http://127.0.0.1:$nginx_port$p" "$nginx_pid")
        echo "$1 $p $ib_rps $ng_rps $ib_p99 $ng_p99 $ib_cpu $ng_cpu $ib_wait $ng_wait $ib_wrk $ng_wrk"
    done
}
compare COMPARE
[ "${PINNED:-0}" = 1 ] || exit 0

# The same, with each server (all its threads, all nginx's processes) on CPU 0 and wrk
# (one thread) on CPU 1: neither waits for the other's CPU, so what is left of the tail
# is the server's own. One line per path: COMPARE_PINNED, same fields.
echo
echo "== the same, servers on CPU 0, wrk -t1 on CPU 1"
for p in "$pid" $(pgrep -P "$nginx_pid") "$nginx_pid"; do taskset -a -p -c 0 "$p" >/dev/null; done
wrk_cpu=1
compare COMPARE_PINNED
