#!/usr/bin/env bash
# Benchmark: ironbell's image2disk against `curl | zstd -d | dd oflag=direct conv=fsync`
# (and xz), in the same run, into a file and into a loop device.
#
# A 2 GiB compressible image (a repeated pattern with one random MiB in 16) is generated
# once into $BENCH_DIR (default /tmp/ironbell-image2disk-bench) and compressed with zstd
# and xz; python3's http.server serves it on loopback. Needs root (loop device), curl,
# zstd, xz, python3, losetup. Prints MB/s (10^6 bytes per second of image written) and the
# ratio ironbell / pipeline for each case.
#
# Both sides end with the data on the device: the agent fsyncs before it reports the
# image written, and dd does too (conv=fsync). A loop device writes into its backing
# file's page cache, so without the fsync dd would stop the clock with up to the whole
# image still to be written back (DD_CONV= measures that, for comparison).
#
#   crates/agent/bench/image2disk.sh            # builds the release agent if needed
#   AGENT=/path/to/ironbell-agent crates/agent/bench/image2disk.sh
#   AGENTS="musl=/path/a glibc=/path/b" crates/agent/bench/image2disk.sh
#       # several agents side by side, each case's pipeline run once: one row per agent,
#       # its label last
set -euo pipefail
cd "$(dirname "$0")/../../.."

BENCH_DIR=${BENCH_DIR:-/tmp/ironbell-image2disk-bench}
SIZE_MIB=${SIZE_MIB:-2048}
PORT=${PORT:-18731}
DD_CONV=${DD_CONV-fsync}
if [ -z "${AGENTS:-}" ]; then
  if [ -z "${AGENT:-}" ]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target} cargo build -q -p ironbell-agent --release --target x86_64-unknown-linux-musl
    AGENT=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-musl/release/ironbell-agent
  fi
  AGENTS="ironbell=$AGENT"
  LABELS=0
else
  LABELS=1
fi
for a in $AGENTS; do
  [ -x "${a#*=}" ] || { echo "not an executable agent: ${a#*=}" >&2; exit 1; }
done
for t in curl zstd xz python3 losetup dd; do
  command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 0; }
done

mkdir -p "$BENCH_DIR"
IMG=$BENCH_DIR/disk.raw
if [ ! -f "$IMG.done" ]; then
  echo "generating a ${SIZE_MIB} MiB image in $BENCH_DIR (once)"
  python3 - "$IMG" "$SIZE_MIB" <<'PY'
import os, sys
path, mib = sys.argv[1], int(sys.argv[2])
pattern = bytes((i * 7 + i // 251) & 0xFF for i in range(1 << 20))
with open(path, "wb") as f:
    for i in range(mib):
        f.write(os.urandom(1 << 20) if i % 16 == 0 else pattern)
PY
  zstd -q -T0 -3 -f "$IMG" -o "$IMG.zst"
  xz -T0 -1 -k -f -c "$IMG" > "$IMG.xz"
  touch "$IMG.done"
fi
BYTES=$(stat -c %s "$IMG")
ls -l "$IMG" "$IMG.zst" "$IMG.xz"

python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$BENCH_DIR" >/dev/null 2>&1 &
HTTP_PID=$!
OUT=$BENCH_DIR/out.img
BACKING=$BENCH_DIR/loop-backing.img
LOOPDEV=""
cleanup() {
  kill "$HTTP_PID" 2>/dev/null || true
  [ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV" 2>/dev/null || true
  rm -f "$OUT" "$BACKING"
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/disk.raw.done" && break; sleep 0.1; done

truncate -s "$BYTES" "$BACKING"
LOOPDEV=$(losetup -f --show "$BACKING")

now() { date +%s.%N; }
mbps() { python3 -c "import sys; print(f'{$BYTES / float(sys.argv[1]) / 1e6:.0f}')" "$1"; }

declare -A T
run_case() { # name target-kind(file|loop) tool(agent path|pipeline) format(zst|xz)
  local kind=$2 tool=$3 fmt=$4 dest start end
  if [ "$kind" = file ]; then rm -f "$OUT"; : > "$OUT"; dest=$OUT; else dest=$LOOPDEV; fi
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  local url="http://127.0.0.1:$PORT/disk.raw.$fmt"
  start=$(now)
  if [ "$tool" != pipeline ]; then
    IMG_URL=$url DEST_DISK=$dest COMPRESSED=true PROGRESS_INTERVAL_SECONDS=30 RUST_LOG=warn "$tool" action image2disk
  else
    local dec="zstd -d"; [ "$fmt" = xz ] && dec="xz -d"
    curl -s "$url" | $dec | dd of="$dest" bs=4M oflag=direct ${DD_CONV:+conv=$DD_CONV} status=none
  fi
  end=$(now)
  T[$1]=$(python3 -c "print($end - $start)")
  # correctness: the first and last MiB match the source
  cmp -n $((1 << 20)) "$IMG" "$dest" >/dev/null
  cmp -i $((BYTES - (1 << 20))) -n $((1 << 20)) "$IMG" "$dest" >/dev/null
}

echo "pipeline: curl | zstd -d (or xz -d) | dd bs=4M oflag=direct${DD_CONV:+ conv=$DD_CONV}"
printf '\n%-8s %-5s %12s %12s %8s%s\n' target fmt "ironbell" "pipeline" ratio "$( ((LABELS)) && echo '  agent')"
for kind in file loop; do
  for fmt in zst xz; do
    run_case "$kind-$fmt-pipe" "$kind" pipeline "$fmt"
    b=$(mbps "${T[$kind-$fmt-pipe]}")
    for a in $AGENTS; do
      label=${a%%=*}
      run_case "$kind-$fmt-$label" "$kind" "${a#*=}" "$fmt"
      ib=$(mbps "${T[$kind-$fmt-$label]}")
      printf '%-8s %-5s %9s MB/s %7s MB/s %7s%s\n' "$kind" "$fmt" "$ib" "$b" \
        "$(python3 -c "print(f'{$ib / $b:.2f}')")" "$( ((LABELS)) && echo "  $label")"
    done
  done
done
