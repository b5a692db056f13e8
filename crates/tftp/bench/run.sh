#!/usr/bin/env bash
# Benchmark: ironbell's TFTP server against Debian's tftpd-hpa, inside a throw-away network
# namespace (no route out). Serves a 1 MiB and a 64 MiB file and prints one side-by-side
# table of throughput (MiB/s) and the ironbell/tftpd-hpa ratio:
#   - single downloads (best of 5, or 3 for 64 MiB) of both files, blksize 1468, without and with
#     windowsize 16 (tftpd-hpa does not grant windowsize: its rows are lock-step), client
#     and server pinned to one CPU;
#   - 200 concurrent 1 MiB downloads, without and with windowsize 16;
#   - 200 concurrent 1 MiB downloads by 200 curl processes (the earlier benchmark).
# Every row but the last uses the same client, examples/tftp-get.rs (asks for blksize,
# tsize and windowsize; one thread per transfer), against both servers.
# SHORT=1 (scripts/bench --short): only the 1 MiB single rows and 50 concurrent downloads.
# BENCH_PROFILE=dev: the dev build (scripts/lib/bench-build.sh).
# Needs root, curl, bc and apt-get (tftpd-hpa is unpacked, not installed, so no service is
# started). Usage: crates/tftp/bench/run.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
ns=ibbench$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

. "$repo/scripts/lib/bench-build.sh"
bin=$(bench_build "$repo" -p ironbell-tftp --example tftp-serve --example tftp-get)
ironbell="$bin/examples/tftp-serve"
get="$bin/examples/tftp-get"

tftpd=$(command -v in.tftpd || true)
if [ -z "$tftpd" ]; then
    # Unpacked rather than installed: its maintainer scripts would start a daemon on :69.
    debs="tftpd-hpa libwrap0"
    (cd "$work" && apt-get download -q $debs >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download -q $debs >/dev/null; })
    for d in "$work"/*.deb; do dpkg -x "$d" "$work/pkg"; done
    tftpd="$work/pkg/usr/sbin/in.tftpd"
    export LD_LIBRARY_PATH="$work/pkg/lib/x86_64-linux-gnu:$work/pkg/usr/lib/x86_64-linux-gnu"
fi

mkdir -p "$work/root" "$work/out"
head -c $((1024 * 1024)) /dev/urandom >"$work/root/1m.bin"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$work/root/64m.bin"

ip netns add "$ns"
ip -n "$ns" link set lo up
# in.tftpd resolves its -a address with AI_ADDRCONFIG, which fails when the only IPv4
# address is loopback's: give the namespace a veth pair (both ends inside) with an address too.
ip -n "$ns" link add ib0 type veth peer name ib1
ip -n "$ns" addr add 192.0.2.1/24 dev ib0
ip -n "$ns" link set ib0 up
nsx() { ip netns exec "$ns" "$@"; }

# Started with `ip netns exec` directly (not through a function) so that $! is the
# server's own PID and cleanup can kill it.
ip netns exec "$ns" "$ironbell" --root "$work/root" --listen 127.0.0.1:6901 2>/dev/null & pids+=($!)
# A second pair, pinned to CPU 0 with the client, for the single-transfer rows (see below).
ip netns exec "$ns" taskset -c 0 "$ironbell" --root "$work/root" --listen 127.0.0.1:6903 2>/dev/null & pids+=($!)
# -L: foreground; -s: chroot to the root; -u nobody: the package's `tftp` user does not
# exist when the package is only unpacked; -B 1468: allow blksize 1468.
chmod 755 "$work" "$work/root"
chmod 644 "$work"/root/*
ip netns exec "$ns" "$tftpd" -L -u nobody -s "$work/root" -a 127.0.0.1:6902 -B 1468 & pids+=($!)
ip netns exec "$ns" taskset -c 0 "$tftpd" -L -u nobody -s "$work/root" -a 127.0.0.1:6904 -B 1468 & pids+=($!)
sleep 1

now() { date +%s.%N; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
# Single transfers run client and server on one CPU: lock-step TFTP is a ping-pong, and
# unpinned its speed is the VM's cross-CPU wake-up latency, which swung 3x between runs
# for both servers alike; pinned, it is the CPU cost per block, which is what differs.
single() { # port file [tftp-get options] -> MiB/s (best of 5 for 1m.bin, 3 for 64m.bin)
    local port=$1 file=$2 best=0 r tries=3
    shift 2
    [ "$file" != 1m.bin ] || tries=5
    for _ in $(seq "$tries"); do
        r=$(nsx taskset -c 0 "$get" "$@" --check "$work/root/$file" "127.0.0.1:$port" "$file" | field mib_per_s)
        if (( $(echo "$r > $best" | bc -l) )); then best=$r; fi
    done
    echo "$best"
}
concurrent() { # port n [tftp-get options] -> MiB/s of n parallel 1 MiB downloads
    local port=$1 n=$2
    shift 2
    nsx "$get" "$@" --concurrent "$n" --check "$work/root/1m.bin" "127.0.0.1:$port" 1m.bin | field mib_per_s
}
curl_concurrent() { # port n -> MiB/s for n parallel 1 MiB downloads by curl processes
    # curl 7.88 prints "getpeername() failed with errno 107" on every TFTP transfer and
    # shows that first message whatever failed after it: the exit codes say what did.
    local t0 t1 i cpids=() fail=0 codes=""
    t0=$(now)
    for i in $(seq 1 "$2"); do
        nsx curl -sS --max-time 120 --tftp-blksize 1468 -o "$work/out/c$i" "tftp://127.0.0.1:$1/1m.bin" & cpids+=($!)
    done
    for p in "${cpids[@]}"; do wait "$p" || { codes+=" $?"; fail=$((fail + 1)); }; done
    t1=$(now)
    for i in $(seq 1 "$2"); do cmp -s "$work/out/c$i" "$work/root/1m.bin" || fail=$((fail + 1)); done
    rm -f "$work"/out/c*
    [ "$fail" = 0 ] || { echo "$fail curl downloads from :$1 failed (curl exit codes:${codes:- none, the files differ})" >&2; exit 1; }
    echo "$2 / ($t1 - $t0)" | bc -l
}
row() { # label ironbell-MiB/s tftpd-hpa-MiB/s
    printf '%-44s %14.1f %14.1f %8.2fx\n' "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)"
}

printf '%-44s %14s %14s %9s\n' "MiB/s (blksize 1468)" "ironbell-tftp" "tftpd-hpa" "ratio"
if [ "${SHORT:-0}" = 1 ]; then
    row "single 1m.bin (one CPU)" "$(single 6903 1m.bin --blksize 1468)" "$(single 6904 1m.bin --blksize 1468)"
    row "50 concurrent 1m.bin" "$(concurrent 6901 50 --blksize 1468)" "$(concurrent 6902 50 --blksize 1468)"
    exit 0
fi
for f in 1m.bin 64m.bin; do
    row "single $f (one CPU)" "$(single 6903 $f --blksize 1468)" "$(single 6904 $f --blksize 1468)"
    row "single $f, windowsize 16 (one CPU)" \
        "$(single 6903 $f --blksize 1468 --windowsize 16)" "$(single 6904 $f --blksize 1468 --windowsize 16)"
done
row "200 concurrent 1m.bin" "$(concurrent 6901 200 --blksize 1468)" "$(concurrent 6902 200 --blksize 1468)"
row "200 concurrent 1m.bin, windowsize 16" \
    "$(concurrent 6901 200 --blksize 1468 --windowsize 16)" "$(concurrent 6902 200 --blksize 1468 --windowsize 16)"
row "200 concurrent 1m.bin, curl processes" "$(curl_concurrent 6901 200)" "$(curl_concurrent 6902 200)"
