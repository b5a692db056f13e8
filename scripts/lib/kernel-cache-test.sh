#!/usr/bin/env bash
# Checks the kernel cache (scripts/lib/kernel-cache.sh) the way it fails in practice: a
# build killed while it extracts the kernel, then run again. As root (hookos/build.sh
# needs it), with a stand-in linux-image .deb (a big incompressible module, so the
# extraction takes long enough to be killed halfway) and a stand-in agent:
#
#   1. hookos/build.sh is killed (its whole process group, SIGKILL) during the extraction:
#      the cache then holds no extract-<deb> directory, only a temporary one;
#   2. a half-extracted directory left by the old, non-atomic scripts is planted;
#   3. hookos/build.sh runs again: it removes the temporary directory, extracts again and
#      builds; the extraction is complete (every file, modules.dep, the marker);
#   4. os-image's use of the cache (kernel_cache_extract on the same .deb) finds the
#      complete extraction and does not extract again.
#
#   sudo bash scripts/lib/kernel-cache-test.sh     (about 30 s; prints PASS or FAIL lines)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "kernel-cache-test: needs root (hookos/build.sh does)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND...
    if "${@:2}"; then echo "PASS $1"; else echo "FAIL $1"; fail=1; fi
}

# A stand-in kernel package: vmlinuz, modules.builtin and a 150 MiB random "module".
kver=9.9.9-ironbell-test
pkg="$work/pkg"
mkdir -p "$pkg/DEBIAN" "$pkg/boot" "$pkg/lib/modules/$kver/kernel/sound"
printf 'Package: linux-image-%s\nVersion: 1\nArchitecture: amd64\nMaintainer: test <t@example.invalid>\nDescription: stand-in\n' \
    "$kver" >"$pkg/DEBIAN/control"
head -c 4M /dev/urandom >"$pkg/boot/vmlinuz-$kver"
# Not a driver HookOS takes, so that the build after the extraction stays quick.
head -c 150M /dev/urandom >"$pkg/lib/modules/$kver/kernel/sound/big.ko"
: >"$pkg/lib/modules/$kver/modules.builtin"
deb="$work/linux-image-${kver}_1_amd64.deb"
dpkg-deb -Znone -b "$pkg" "$deb" >/dev/null
printf '#!/bin/sh\necho stand-in agent\n' >"$work/agent"
chmod +x "$work/agent"

cache="$work/cache"
mkdir -p "$cache"
kx="$cache/extract-$(basename "$deb" .deb)"
build() {
    HOOKOS_CACHE="$cache" KERNEL_DEB="$deb" AGENT_BIN="$work/agent" HOOKOS_ZSTD_LEVEL=1 \
        HOOKOS_REBUILD=1 bash "$repo/hookos/build.sh" "$work/out"
}

# 1. Killed during the extraction.
setsid bash -c "$(declare -f build); $(declare -p cache deb work repo); build" \
    >"$work/first.log" 2>&1 &
pid=$!
killed=0
for _ in $(seq 600); do
    if [ -n "$(find "$cache" -path '*/.extract.*' -name big.ko 2>/dev/null)" ]; then
        kill -KILL -- "-$pid" && killed=1
        break
    fi
    sleep 0.05 # polling for the extraction to start, bounded by the loop
done
wait "$pid" 2>/dev/null || true
check "the first build was killed during the extraction" [ "$killed" = 1 ]
check "no extract-<deb> directory after the kill" [ ! -e "$kx" ]
check "a temporary extraction was left behind" [ -n "$(compgen -G "$cache/.extract.*" || true)" ]

# 2. What the old scripts could leave: a half extraction under the final name.
mkdir -p "$kx/lib/modules/$kver"

# 3. Again: clean up, extract again, build.
if build >"$work/second.log" 2>&1; then second=0; else second=$?; fi
check "the second build succeeds" [ "$second" = 0 ]
[ "$second" = 0 ] || tail -n 20 "$work/second.log"
check "it says it removed the interrupted build's leftovers" grep -q "left by an interrupted build" "$work/second.log"
check "it says the half extraction is incomplete" grep -q "is incomplete" "$work/second.log"
check "no temporary directory remains" [ -z "$(compgen -G "$cache/.extract.*" || true)" ]
check "the extraction is marked complete" [ -f "$kx/.complete" ]
check "modules.dep is there" [ -f "$kx/lib/modules/$kver/modules.dep" ]
check "the module is whole" cmp -s "$pkg/lib/modules/$kver/kernel/sound/big.ko" \
    "$kx/lib/modules/$kver/kernel/sound/big.ko"
check "the kernel in the output is the package's" cmp -s "$pkg/boot/vmlinuz-$kver" "$work/out/vmlinuz-x86_64"

# 4. The other script's path through the cache: no second extraction.
third="$(bash -c "source '$repo/scripts/lib/kernel-cache.sh'; kernel_cache_extract '$cache' '$deb'" 2>"$work/third.log")"
check "a later lookup returns the same directory" [ "$third" = "$kx" ]
check "a later lookup does not extract again" [ ! -s "$work/third.log" ]

[ "$fail" = 0 ] && echo "kernel-cache-test: all passed" || echo "kernel-cache-test: FAILED"
exit "$fail"
