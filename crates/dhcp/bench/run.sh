#!/usr/bin/env bash
# DHCP load benchmark: ironbell (examples/dhcp-serve.rs) vs ISC Kea 2.2 (memfile) vs
# dnsmasq, each driven by Kea's perfdhcp from a second network namespace joined by a veth.
#
# For each server it runs perfdhcp at increasing rates of 4-way exchanges (DORA) per
# second and records the highest rate at which at most 1 % of the exchanges were lost
# (ACKs received vs DISCOVERs sent) and perfdhcp kept up with the asked rate (>= 95 %).
#
# Run as root from anywhere: crates/dhcp/bench/run.sh
# Environment: RATES="1000 2000 ..."  PERIOD=15 (seconds per step)
#              SERVERS="ironbell kea dnsmasq" (also: ironbell_tokio, the async loop)
#              ALL_RATES=1: every rate for every server, also after a failed step (for the
#                server CPU per exchange at equal offered load; scripts/bench uses it)
#              RESERVATIONS=10000: MACs reserved in the server and used by perfdhcp
#              CARGO_TARGET_DIR (default <repo>/target)
#              BENCH_PROFILE=dev: the dev build (scripts/lib/bench-build.sh)
# Needs: apt (installs kea-admin, kea-dhcp4-server, dnsmasq if missing), cargo, iproute2.
set -euo pipefail

RATES=${RATES:-"250 500 1000 2000 4000 8000 12000 16000"}
PERIOD=${PERIOD:-15}
SERVERS=${SERVERS:-"ironbell kea dnsmasq"}
MAX_DROP_PCT=1
MIN_RATE_PCT=95
# Reservations (Hardware) the servers hold, and perfdhcp's clients: every one of them.
# RESERVATIONS=100000 (scripts/bench's at-scale row) is for ironbell alone (SERVERS=ironbell).
NCLIENTS=${RESERVATIONS:-10000}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
ALL_RATES=${ALL_RATES:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}

[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }

SNS=ibbench-srv.$$
CNS=ibbench-cli.$$
SIF=ibb-s0
CIF=ibb-c0
SERVER_IP=10.100.0.1
CLIENT_IP=10.100.255.254
WORK=$(mktemp -d /tmp/ibbench.XXXXXX)
SERVER_PID=
POLICY_CREATED=

cleanup() {
    set +e
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
    fi
    [[ -n $POLICY_CREATED ]] && rm -f /usr/sbin/policy-rc.d
    ip netns del "$SNS" 2>/dev/null
    ip netns del "$CNS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# --- 1. packages, without letting their services start --------------------------------
install_packages() {
    local missing=()
    command -v perfdhcp >/dev/null || missing+=(kea-admin)
    [[ -x /usr/sbin/kea-dhcp4 ]] || missing+=(kea-dhcp4-server)
    [[ -x /usr/sbin/dnsmasq ]] || missing+=(dnsmasq)
    [[ ${#missing[@]} -eq 0 ]] && return
    local before
    before=$(pgrep -d' ' -x 'kea-dhcp4|kea-dhcp6|kea-dhcp-ddns|kea-ctrl-agent|dnsmasq' || true)
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        POLICY_CREATED=1
    fi
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
    if [[ -n $POLICY_CREATED ]]; then rm -f /usr/sbin/policy-rc.d; POLICY_CREATED=; fi
    # Kill only daemons that the install started (none should, with policy-rc.d).
    local pid
    for pid in $(pgrep -x 'kea-dhcp4|kea-dhcp6|kea-dhcp-ddns|kea-ctrl-agent|dnsmasq' || true); do
        [[ " $before " == *" $pid "* ]] || { log "stopping $pid started by apt"; kill "$pid"; }
    done
}
install_packages

# --- 2. build ironbell's server -------------------------------------------------------
log "building dhcp-serve (${BENCH_PROFILE:-release})"
. "$REPO/scripts/lib/bench-build.sh"
IRONBELL=$(bench_build "$REPO" -p ironbell-dhcp --example dhcp-serve)/examples/dhcp-serve

# --- 3. clients: 10,000 (RESERVATIONS) locally administered MACs ----------------------
MACS=$WORK/macs.txt
for ((i = 0; i < NCLIENTS; i++)); do
    printf '02:00:00:%02x:%02x:%02x\n' $((i >> 16)) $(((i >> 8) & 255)) $((i & 255))
done >"$MACS"

# --- 4. namespaces --------------------------------------------------------------------
ip netns add "$SNS"
ip netns add "$CNS"
ip link add "$SIF" type veth peer name "$CIF"
ip link set "$SIF" netns "$SNS"
ip link set "$CIF" netns "$CNS"
ip -n "$SNS" addr add "$SERVER_IP/16" dev "$SIF"
ip -n "$CNS" addr add "$CLIENT_IP/16" dev "$CIF"
for ns in "$SNS" "$CNS"; do
    ip -n "$ns" link set lo up
    # 4 MiB socket receive buffers in both namespaces (per-namespace sysctls), for every
    # server alike and for perfdhcp: with the 208 KiB default, perfdhcp's own socket
    # overflows first and the run measures the client, not the server.
    ip netns exec "$ns" sysctl -qw net.core.rmem_default=4194304 net.core.rmem_max=4194304
done
ip -n "$SNS" link set "$SIF" up
ip -n "$CNS" link set "$CIF" up

# --- 5. servers -----------------------------------------------------------------------
start_ironbell() {
    ip netns exec "$SNS" "$IRONBELL" --listen 0.0.0.0:67 --interface "$SIF" \
        --server-ip "$SERVER_IP" --macs "$MACS" 2>"$WORK/ironbell.log" &
    SERVER_PID=$!
}

# The same server on its Tokio loop (Server::serve), for comparison; not in the default set.
start_ironbell_tokio() {
    ip netns exec "$SNS" "$IRONBELL" --listen 0.0.0.0:67 --interface "$SIF" \
        --server-ip "$SERVER_IP" --macs "$MACS" --tokio 2>"$WORK/ironbell_tokio.log" &
    SERVER_PID=$!
}

start_kea() {
    local d=$WORK/kea
    mkdir -p "$d"
    cat >"$d/kea-dhcp4.conf" <<EOF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$SIF" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$d/leases4.csv",
                        "lfc-interval": 0 },
    "valid-lifetime": 604800,
    "subnet4": [ { "id": 1, "subnet": "10.100.0.0/16",
                   "pools": [ { "pool": "10.100.0.10 - 10.100.254.254" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN",
                   "output_options": [ { "output": "$d/kea.log" } ] } ]
  }
}
EOF
    KEA_PIDFILE_DIR=$d KEA_LOCKFILE_DIR=$d KEA_LOGGER_DESTINATION=$d/kea.log \
        ip netns exec "$SNS" /usr/sbin/kea-dhcp4 -c "$d/kea-dhcp4.conf" 2>"$d/stderr.log" &
    SERVER_PID=$!
}

start_dnsmasq() {
    local d=$WORK/dnsmasq
    mkdir -p "$d"
    ip netns exec "$SNS" /usr/sbin/dnsmasq -k --conf-file=/dev/null --port=0 --user=root \
        --interface="$SIF" --bind-interfaces --no-ping \
        --dhcp-range=10.100.0.10,10.100.254.254,255.255.0.0,7d \
        --dhcp-lease-max=70000 --dhcp-leasefile="$d/leases" --pid-file="$d/pid" \
        2>"$d/stderr.log" &
    SERVER_PID=$!
}

stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}

# --- 6. load --------------------------------------------------------------------------
# One step: prints "sent acked achieved_rate" (DISCOVERs sent, ACKs received, rate).
step() {
    local rate=$1 out=$2
    ip netns exec "$SNS" nstat -n >/dev/null 2>&1; ip netns exec "$CNS" nstat -n >/dev/null 2>&1
    ip netns exec "$CNS" perfdhcp -4 -l "$CIF" -r "$rate" -p "$PERIOD" -R "$NCLIENTS" \
        -M "$MACS" >"$out" 2>&1 || true
    # Datagrams the kernel dropped because a socket's receive buffer was full, per side.
    local srv cli
    srv=$(ip netns exec "$SNS" nstat -z UdpRcvbufErrors 2>/dev/null | awk '/UdpRcvbufErrors/ { print $2 }')
    cli=$(ip netns exec "$CNS" nstat -z UdpRcvbufErrors 2>/dev/null | awk '/UdpRcvbufErrors/ { print $2 }')
    log "  kernel receive-buffer drops: server ${srv:-?}, client ${cli:-?}"
    awk '
        /^Rate:/ { achieved = $2 }
        /Statistics for: DISCOVER-OFFER/ { section = "do" }
        /Statistics for: REQUEST-ACK/ { section = "ra" }
        /^sent packets:/ && section == "do" { sent = $3 }
        /^received packets:/ && section == "ra" { acked = $3 }
        END { printf "%d %d %s\n", sent, acked, (achieved == "" ? 0 : achieved) }
    ' "$out"
}

declare -A BEST BEST_ACKS BEST_CPU
HZ=$(getconf CLK_TCK)
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# utime of a process, in clock ticks (the log line splits CPU into user and system time).
user_ticks() { awk '{ print $14 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
RESULTS=$WORK/results.txt
: >"$RESULTS"

for server in $SERVERS; do
    log "== $server"
    "start_$server"
    sleep 2
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        log "$server did not start:"; cat "$WORK"/$server*.log "$WORK/$server"/*.log 2>/dev/null >&2 || true
        SERVER_PID=; BEST[$server]=failed; BEST_ACKS[$server]=-; continue
    fi
    BEST[$server]=0
    BEST_ACKS[$server]=0
    BEST_CPU[$server]=-
    for rate in $RATES; do
        cpu0=$(cpu_ticks "$SERVER_PID")
        user0=$(user_ticks "$SERVER_PID")
        read -r sent acked achieved < <(step "$rate" "$WORK/perfdhcp-$server-$rate.txt")
        cpu1=$(cpu_ticks "$SERVER_PID")
        user1=$(user_ticks "$SERVER_PID")
        user_pct=$(awk -v t=$((cpu1 - cpu0)) -v u=$((user1 - user0)) 'BEGIN { if (t > 0) printf "%d", 100 * u / t; else print "-" }')
        # Server CPU time per answered exchange, in microseconds.
        us_per=$(awk -v t=$((cpu1 - cpu0)) -v hz="$HZ" -v a="$acked" \
            'BEGIN { if (a > 0) printf "%.1f", t * 1e6 / hz / a; else print "-" }')
        if ((sent > 0)); then
            drop=$(awk -v s="$sent" -v a="$acked" 'BEGIN { printf "%.2f", 100 * (s - a) / s }')
        else
            drop=100
        fi
        per_s=$(awk -v a="$acked" -v p="$PERIOD" 'BEGIN { printf "%d", a / p }')
        ok=$(awk -v d="$drop" -v r="$achieved" -v t="$rate" -v md="$MAX_DROP_PCT" -v mr="$MIN_RATE_PCT" \
            'BEGIN { print (d <= md && r >= t * mr / 100) ? "ok" : "FAIL" }')
        log "$server rate $rate: sent $sent, ACKs $acked ($per_s/s), achieved $achieved/s, drops $drop %, server CPU $us_per us/exchange ($user_pct % in user space) -> $ok"
        printf '%s %s %s %s %s %s %s %s\n' "$server" "$rate" "$sent" "$acked" "$achieved" "$drop" "$us_per" "$ok" >>"$RESULTS"
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then log "$server died"; break; fi
        if [[ $ok != ok ]]; then
            [[ $ALL_RATES == 1 ]] && continue
            break
        fi
        BEST[$server]=$rate
        BEST_ACKS[$server]=$per_s
        BEST_CPU[$server]=$us_per
    done
    stop_server
done

# --- 7. report ------------------------------------------------------------------------
echo
echo "Per step (period ${PERIOD}s, pass = drops <= ${MAX_DROP_PCT} % and achieved >= ${MIN_RATE_PCT} % of asked):"
printf '%-9s %7s %9s %9s %10s %8s %8s %s\n' server asked discovers acks achieved/s drop% cpu_us result
while read -r s r se a ac d c ok; do
    printf '%-9s %7s %9s %9s %10s %8s %8s %s\n' "$s" "$r" "$se" "$a" "$ac" "$d" "$c" "$ok"
done <"$RESULTS"
echo
echo "Highest rate with <= ${MAX_DROP_PCT} % DORA drops (exchanges/s asked; ACKs/s at that rate):"
printf '%-10s' ""; for s in $SERVERS; do printf ' %15s' "$s"; done; echo
printf '%-10s' "rate"; for s in $SERVERS; do printf ' %15s' "${BEST[$s]}"; done; echo
printf '%-10s' "ACKs/s"; for s in $SERVERS; do printf ' %15s' "${BEST_ACKS[$s]}"; done; echo
printf '%-10s' "CPU us/ex"; for s in $SERVERS; do printf ' %15s' "${BEST_CPU[$s]}"; done; echo
top=${RATES##* }
for s in $SERVERS; do
    [[ ${BEST[$s]} == "$top" ]] && echo "note: $s passed the highest rate tried ($top); its limit is higher"
done
if [[ ${BEST[ironbell]:-x} =~ ^[0-9]+$ && ${BEST[kea]:-x} =~ ^[1-9][0-9]*$ ]]; then
    awk -v i="${BEST[ironbell]}" -v k="${BEST[kea]}" 'BEGIN { printf "ironbell/Kea, highest rate: %.2f\n", i / k }'
fi
# Server CPU per exchange at the same asked rate (every rate both passed): what each server
# costs, independent of how fast perfdhcp can drive it on a 2-core machine.
awk '$8 == "ok" { cpu[$1 "," $2] = $7 }
     END { for (k in cpu) { split(k, p, ","); if (p[1] == "kea" && (("ironbell," p[2]) in cpu))
             printf "rate %s: Kea/ironbell CPU per exchange %.2f\n", p[2], cpu[k] / cpu["ironbell," p[2]] } }' \
    "$RESULTS" | sort -t' ' -k2 -n
