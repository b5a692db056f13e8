#!/usr/bin/env bash
# Benchmark: ironbell's TFTP server against Debian's tftpd-hpa, inside a throw-away network
# namespace (no route out). Serves a 1 MiB and a 64 MiB file, times single downloads with
# curl (blksize 1468) and 200 concurrent 1 MiB downloads, prints a side-by-side table.
# Not run in CI. Needs root, curl and apt-get (tftpd-hpa is unpacked, not installed, so no
# service is started). Usage: crates/tftp/bench/run.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d)
ns=ibbench$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

(cd "$repo" && cargo build -q --release -p ironbell-tftp --example tftp-serve)
ironbell="$target/release/examples/tftp-serve"

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
# -L: foreground; -s: chroot to the root; -u nobody: the package's `tftp` user does not
# exist when the package is only unpacked; -B 1468: allow blksize 1468.
chmod 755 "$work" "$work/root"
chmod 644 "$work"/root/*
ip netns exec "$ns" "$tftpd" -L -u nobody -s "$work/root" -a 127.0.0.1:6902 -B 1468 & pids+=($!)
sleep 1

now() { date +%s.%N; }
single() { # port file -> seconds (best of 3)
    local best=999999 t0 t1 d
    for _ in 1 2 3; do
        t0=$(now)
        nsx curl -sS --tftp-blksize 1468 -o "$work/out/single" "tftp://127.0.0.1:$1/$2"
        t1=$(now)
        cmp -s "$work/out/single" "$work/root/$2" || { echo "download of $2 from :$1 differs" >&2; exit 1; }
        d=$(echo "$t1 - $t0" | bc -l)
        if (( $(echo "$d < $best" | bc -l) )); then best=$d; fi
    done
    printf '%.3f' "$best"
}
concurrent() { # port n -> seconds for n parallel 1 MiB downloads
    local t0 t1 i cpids=()
    t0=$(now)
    for i in $(seq 1 "$2"); do
        nsx curl -sS --max-time 120 --tftp-blksize 1468 -o "$work/out/c$i" "tftp://127.0.0.1:$1/1m.bin" & cpids+=($!)
    done
    local fail=0
    for p in "${cpids[@]}"; do wait "$p" || fail=$((fail + 1)); done
    t1=$(now)
    for i in $(seq 1 "$2"); do cmp -s "$work/out/c$i" "$work/root/1m.bin" || fail=$((fail + 1)); done
    rm -f "$work"/out/c*
    printf '%.3f s (%d failed)' "$(echo "$t1 - $t0" | bc -l)" "$fail"
}

printf '%-34s %-22s %-22s\n' "test (curl, blksize 1468)" "ironbell-tftp" "tftpd-hpa"
for f in 1m.bin 64m.bin; do
    a=$(single 6901 "$f"); b=$(single 6902 "$f")
    printf '%-34s %-22s %-22s\n' "single $f, best of 3 (s)" "$a" "$b"
done
a=$(concurrent 6901 200); b=$(concurrent 6902 200)
printf '%-34s %-22s %-22s\n' "200 concurrent 1m.bin (wall)" "$a" "$b"
