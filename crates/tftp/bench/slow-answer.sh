#!/usr/bin/env bash
# A server slow to answer a read request, against curl, for ironbell's TFTP server and
# tftpd-hpa: the server is stopped (SIGSTOP) while curl sends its request, until curl has
# sent it again (curl --max-time 5 repeats an unanswered request after a second; with
# scripts/bench's --max-time 120, after 5 s), then resumed. Both requests wait in the
# listening socket's queue. A server that starts a transfer for each sends curl two OACKs
# from two TIDs; curl takes the second for its own transfer and stalls (exit 28, the file
# cut short). This is how 2 of 200 curl downloads failed in scripts/bench on a loaded
# machine; ironbell drops the repeated request (crates/tftp/src/lib.rs; the regression
# test is a_retransmitted_read_request_starts_no_second_transfer in tests/clients.rs).
#
# Prints, per server, how many of ROUNDS (default 10) downloads failed. Needs root, curl
# and in.tftpd (tftpd-hpa, or unpacked as crates/tftp/bench/run.sh does). Traffic stays on
# the loopback of a throw-away namespace; the servers are stopped by PID.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
rounds=${ROUNDS:-10}
(cd "$repo" && cargo build -q --release -p ironbell-tftp --example tftp-serve)
work=$(mktemp -d)
ns=ibslow$$
server=
cleanup() {
    [ -z "$server" ] || { kill -CONT "$server" 2>/dev/null; kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; } || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root"
head -c $((1024 * 1024)) /dev/urandom >"$work/root/1m.bin"
chmod 755 "$work" "$work/root"
chmod 644 "$work/root/1m.bin"
ip netns add "$ns"
ip -n "$ns" link set lo up
# in.tftpd needs an IPv4 address besides loopback's (see run.sh).
ip -n "$ns" link add ib0 type veth peer name ib1
ip -n "$ns" addr add 192.0.2.1/24 dev ib0
ip -n "$ns" link set ib0 up

# Bytes queued on the listening socket 127.0.0.1:6901 (/proc/net/udp, rx_queue).
queued() {
    local hex
    hex=$(ip netns exec "$ns" awk '$2 == "0100007F:1AF5" { split($5, q, ":"); print q[2] }' /proc/net/udp)
    [ -z "$hex" ] || echo $((16#$hex))
}
round() { # -> 0 when curl fetched the file whole
    local one=0 q
    kill -STOP "$server"
    ip netns exec "$ns" curl -sS --max-time 5 --tftp-blksize 1468 -o "$work/out" \
        tftp://127.0.0.1:6901/1m.bin 2>/dev/null &
    local curl_pid=$!
    for _ in $(seq 80); do # until the request is queued twice (at most 4 s)
        q=$(queued)
        if [ "$one" = 0 ]; then one=$q; elif [ "$q" -ge $((2 * one)) ]; then break; fi
        sleep 0.05
    done
    kill -CONT "$server"
    wait "$curl_pid" && cmp -s "$work/out" "$work/root/1m.bin"
}
tftpd=$(command -v in.tftpd || echo "${TFTPD:-in.tftpd}")
for name in ironbell tftpd-hpa; do
    if [ $name = ironbell ]; then
        ip netns exec "$ns" "$target/release/examples/tftp-serve" --root "$work/root" --listen 127.0.0.1:6901 2>/dev/null &
    else
        ip netns exec "$ns" "$tftpd" -L -u nobody -s "$work/root" -a 127.0.0.1:6901 -B 1468 &
    fi
    server=$!
    for _ in $(seq 100); do [ -n "$(queued)" ] && break; sleep 0.05; done
    failed=0
    for _ in $(seq "$rounds"); do round || failed=$((failed + 1)); rm -f "$work/out"; done
    echo "$name: $failed of $rounds curl downloads failed with the request answered late"
    kill "$server"; wait "$server" 2>/dev/null || true; server=
done
