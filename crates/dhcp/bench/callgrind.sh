#!/usr/bin/env bash
# Instructions per DHCP exchange on the hot path (parse a PXE Discover and Request, look the
# MAC up among 10,000 reservations, decide, encode both answers), counted by
# `valgrind --tool=callgrind` in benches/exchange.rs's `exchanges` function only. Unlike a
# time, the count hardly moves with the machine's load, so a change shows as a figure
# (the approach of rustls' CI benchmarks).
#
#   bash crates/dhcp/bench/callgrind.sh          # prints "instructions per exchange: N"
#   TOP=15 bash crates/dhcp/bench/callgrind.sh   # and the 15 costliest functions
#
# Needs valgrind. Builds the bench with `cargo bench --no-run` (release profile).
# Environment: CARGO_TARGET_DIR (default <repo>/target), TOP (default 0).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
top=${TOP:-0}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

bin=$(cd "$repo" && cargo bench -q --no-run -p ironbell-dhcp --bench exchange --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[[ -x $bin ]] || { echo "could not build the exchange bench" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Counted only inside `exchanges` (and what it calls); the inputs are built outside it.
valgrind --tool=callgrind --callgrind-out-file="$work/out" --collect-atstart=no \
    --toggle-collect='*exchange::exchanges*' "$bin" >"$work/stdout" 2>"$work/stderr" ||
    { cat "$work/stderr" >&2; exit 1; }
exchanges=$(sed -n 's/^exchange: \([0-9]*\) exchanges.*/\1/p' "$work/stdout")
total=$(awk '/^(summary|totals):/ { print $2; exit }' "$work/out")
[[ -n $exchanges && -n $total && $total -gt 0 ]] ||
    { echo "no instructions counted (is the toggle pattern right?)" >&2; cat "$work/stdout" >&2; exit 1; }
echo "instructions per exchange: $((total / exchanges)) ($total for $exchanges exchanges of Discover + Request)"
if ((top > 0)); then
    callgrind_annotate --inclusive=no "$work/out" 2>/dev/null | grep -E '^ *[0-9,]+ ' | head -n "$top"
fi
