#!/usr/bin/env bash
# Builds HookOS, ironbell's in-memory installer OS: `vmlinuz-x86_64` and
# `initramfs-x86_64` in OUT_DIR (default <repo>/target/hookos).
#
#   bash hookos/build.sh [OUT_DIR]
#
# Run as root on Debian bookworm (scripts/setup installs what it needs). The kernel and
# its modules come from Debian's linux-image-amd64 (the versioned package it depends on),
# busybox from busybox-static, and the agent is ironbell-agent built for
# x86_64-unknown-linux-musl in release mode. The same inputs give the same bytes.
#
# Environment:
#   AGENT_BIN=PATH    use this agent binary instead of building ironbell-agent
#   KERNEL_DEB=PATH   use this linux-image .deb instead of resolving and downloading one
#   HOOKOS_CACHE=DIR  where downloads and extractions are kept (default <repo>/target/hookos-cache)
#   SOURCE_DATE_EPOCH timestamp of every file in the initramfs (default 0)
#   HOOKOS_ZSTD_LEVEL zstd level of the initramfs (default 12; 19 saves ~10% and takes ~35 s)
#   HOOKOS_REBUILD=1  build even when OUT_DIR was built from the same inputs (otherwise kept)
#   CARGO_TARGET_DIR  honoured when building the agent
set -euo pipefail
umask 022
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="${1:-$repo/target/hookos}"
cache="${HOOKOS_CACHE:-$repo/target/hookos-cache}"
epoch="${SOURCE_DATE_EPOCH:-0}"
zlevel="${HOOKOS_ZSTD_LEVEL:-12}"
arch=x86_64
start=$(date +%s)

say() { echo "hookos-build: $*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (device nodes and file owners in the initramfs)"
for tool in dpkg-deb depmod cpio zstd apt-get apt-cache sha256sum find sort flock; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup"
done
[ -x /bin/busybox ] || die "/bin/busybox is missing: install Debian's busybox-static (scripts/setup does)"
# (grep without -q: under pipefail, grep -q's early exit can fail the pipeline with SIGPIPE.)
/bin/busybox --list | grep -x udhcpc >/dev/null || die "/bin/busybox has no udhcpc: it is not busybox-static"

mkdir -p "$out" "$cache"
out="$(cd "$out" && pwd)"
cache="$(cd "$cache" && pwd)"

# --- the kernel ---------------------------------------------------------------------------
# Downloaded and extracted once into the cache shared with os-image/build.sh, atomically
# (scripts/lib/kernel-cache.sh).
source "$repo/scripts/lib/kernel-cache.sh"
if [ -n "${KERNEL_DEB:-}" ]; then
  deb="$KERNEL_DEB"
  say "kernel package $deb (KERNEL_DEB)"
else
  deb="$(kernel_cache_deb "$cache")"
fi
[ -s "$deb" ] || die "kernel package $deb not found"
deb_id="$(basename "$deb" .deb)"
kroot="$(kernel_cache_extract "$cache" "$deb")"
kver="$(kernel_cache_version "$kroot")"
vmlinuz="$kroot/boot/vmlinuz-$kver"
[ -f "$vmlinuz" ] || die "$deb has no boot/vmlinuz-$kver"
kmods="$kroot/lib/modules/$kver"

# --- the agent ----------------------------------------------------------------------------
if [ -n "${AGENT_BIN:-}" ]; then
  agent="$AGENT_BIN"
  say "agent: $agent (AGENT_BIN)"
else
  say "building ironbell-agent (release, x86_64-unknown-linux-musl)"
  (cd "$repo" && cargo build -q -p ironbell-agent --release --target x86_64-unknown-linux-musl >&2) ||
    die "cargo build -p ironbell-agent failed (set AGENT_BIN=/path to use another binary)"
  agent="${CARGO_TARGET_DIR:-$repo/target}/x86_64-unknown-linux-musl/release/ironbell-agent"
fi
[ -f "$agent" ] || die "agent binary $agent not found"

# --- up to date? --------------------------------------------------------------------------
# The same inputs give the same bytes, so an OUT_DIR built from the same inputs (this
# directory's files, the kernel package, busybox, the agent, the zstd level, the timestamp)
# whose files still match their SHA256SUMS is left as it is: the lab tests, each its own
# process, share one build. HOOKOS_REBUILD=1 builds anyway.
inputs="$({
  (cd "$here" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
  sha256sum "$deb" /bin/busybox "$agent" | cut -d' ' -f1
  echo "zstd $zlevel, epoch $epoch"
} | sha256sum | cut -d' ' -f1)"
stamp="$out/.build-inputs"
if [ "${HOOKOS_REBUILD:-0}" != 1 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ] &&
  (cd "$out" && sha256sum --quiet --status -c SHA256SUMS 2>/dev/null); then
  say "$out is up to date (built from the same inputs; HOOKOS_REBUILD=1 builds anyway)"
  exit 0
fi
rm -f "$stamp"

# --- which modules ------------------------------------------------------------------------
# By directory (relative to lib/modules/<version>/): every Ethernet driver, USB Ethernet
# adapters, the hypervisors' NICs, MDIO and PHY drivers (phylib asks for them by ID).
mod_dirs=(
  kernel/drivers/net/ethernet/
  kernel/drivers/net/usb/
  kernel/drivers/net/phy/
  kernel/drivers/net/mdio/
  kernel/drivers/net/pcs/
  kernel/drivers/net/vmxnet3/
  kernel/drivers/net/hyperv/
)
# By name: NICs outside those directories, storage, USB hosts and keyboards, filesystems
# the actions need, loop, VLANs, power button, RNG.
mod_names=(
  virtio_net net_failover failover mii mdio xen-netfront sungem_phy
  virtio_pci virtio_blk virtio_scsi virtio_rng virtio_balloon virtio_console
  nvme ahci ata_piix ata_generic libata sd_mod sr_mod sg
  megaraid_sas mpt3sas hpsa smartpqi aacraid vmw_pvscsi hv_storvsc hv_vmbus xen-blkfront
  mmc_block sdhci_pci sdhci_acpi
  usb-storage uas xhci_pci xhci_hcd ehci_pci ehci_hcd ohci_pci ohci_hcd uhci_hcd
  usbhid hid_generic evdev button
  ext4 vfat fat nls_cp437 nls_iso8859-1 nls_utf8 isofs xfs squashfs overlay efivarfs
  crc32c_generic crc32c-intel
  loop 8021q af_packet
)

stage="$out/.staging"
rm -rf "$stage"
mkdir -p "$stage"
list="$stage.modules"
{
  for d in "${mod_dirs[@]}"; do
    [ -d "$kmods/$d" ] && (cd "$kmods" && find "$d" -name '*.ko*' -type f)
  done
  awk -v names="${mod_names[*]}" '
    function norm(s) { gsub(/-/, "_", s); return s }
    BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) want[norm(a[i])] = 1 }
    { p = $1; sub(/:$/, "", p); m = p; sub(/.*\//, "", m); sub(/\.ko(\.[a-z]+)?$/, "", m)
      if (norm(m) in want) print p }
  ' "$kmods/modules.dep"
} | sort -u >"$list.roots"
# The closure: every root plus everything modules.dep says it needs (already transitive).
awk '
  FNR == NR { root[$1] = 1; next }
  { p = $1; sub(/:$/, "", p); if (p in root) { print p; for (i = 2; i <= NF; i++) print $i } }
' "$list.roots" "$kmods/modules.dep" | sort -u >"$list"
# Add the soft dependencies of selected modules (e.g. ext4 -> crc32c), with their closure.
awk -v listfile="$list" '
  function norm(s) { gsub(/-/, "_", s); return s }
  function modname(p,   m) { m = p; sub(/.*\//, "", m); sub(/\.ko(\.[a-z]+)?$/, "", m); return norm(m) }
  BEGIN { while ((getline p < listfile) > 0) have[modname(p)] = 1 }
  $1 == "softdep" && (norm($2) in have) { for (i = 3; i <= NF; i++) if ($i !~ /:$/) print $i }
' "$kmods/modules.softdep" 2>/dev/null | sort -u >"$list.softsel" || true
if [ -s "$list.softsel" ]; then
  awk -v wantfile="$list.softsel" '
    function norm(s) { gsub(/-/, "_", s); return s }
    BEGIN { while ((getline s < wantfile) > 0) want[norm(s)] = 1 }
    { p = $1; sub(/:$/, "", p); m = p; sub(/.*\//, "", m); sub(/\.ko(\.[a-z]+)?$/, "", m)
      if (norm(m) in want) { print p; for (i = 2; i <= NF; i++) print $i } }
  ' "$kmods/modules.dep" >>"$list"
  sort -u -o "$list" "$list"
fi
missing="$(sed 's/-/_/g' "$list" "$kmods/modules.builtin" | awk -v names="${mod_names[*]}" '
  { m = $1; sub(/.*\//, "", m); sub(/\.ko.*/, "", m); have[m] = 1 }
  END { n = split(names, a, " "); for (i = 1; i <= n; i++) { k = a[i]; gsub(/-/, "_", k); if (!(k in have)) printf " %s", a[i] } }')"
[ -z "$missing" ] || say "not in kernel $kver (skipped):$missing"

# --- the root file system -----------------------------------------------------------------
say "assembling the initramfs for kernel $kver"
mkdir -p "$stage"/{bin,dev,etc/hookos,lib/modules/"$kver",mnt,proc,root,run,sys,tmp,usr/share/udhcpc,var/log}
chmod 1777 "$stage/tmp"
chmod 0700 "$stage/root"
ln -s bin "$stage/sbin"
ln -s ../bin "$stage/usr/bin"
ln -s ../bin "$stage/usr/sbin"
ln -s ../run "$stage/var/run"
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3

install -m 0755 /bin/busybox "$stage/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done
install -m 0755 "$agent" "$stage/bin/ironbell-agent"

install -m 0755 "$here/init" "$stage/init"
install -m 0755 "$here/rootfs/udhcpc.script" "$stage/usr/share/udhcpc/default.script"
install -m 0755 "$here/rootfs/agent-run" "$stage/etc/hookos/agent-run"
install -m 0755 "$here/rootfs/hotplug" "$stage/etc/hookos/hotplug"
install -m 0644 "$here/rootfs/inittab" "$stage/etc/inittab"
mkdir -p "$stage/etc/acpi/PWRF"
install -m 0755 "$here/rootfs/acpi-power" "$stage/etc/acpi/PWRF/00000080"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"
printf 'hookos\n' >"$stage/etc/hostname"
: >"$stage/etc/resolv.conf"
{
  echo 'NAME="HookOS (ironbell)"'
  echo 'ID=hookos'
  echo "KERNEL_VERSION=$kver"
  echo "KERNEL_PACKAGE=$deb_id"
  echo "BUSYBOX=\"$(/bin/busybox 2>&1 | head -n 1)\""
} >"$stage/etc/os-release"

# Modules: decompressed (busybox modprobe loads plain .ko), then depmod on the result.
while read -r rel; do
  plain="${rel%.xz}"
  plain="${plain%.zst}"
  plain="${plain%.gz}"
  mkdir -p "$stage/lib/modules/$kver/$(dirname "$plain")"
  case "$rel" in
    *.ko.xz) xz -dc "$kmods/$rel" >"$stage/lib/modules/$kver/$plain" ;;
    *.ko.zst) zstd -qdc "$kmods/$rel" >"$stage/lib/modules/$kver/$plain" ;;
    *.ko.gz) gzip -dc "$kmods/$rel" >"$stage/lib/modules/$kver/$plain" ;;
    *) cp "$kmods/$rel" "$stage/lib/modules/$kver/$plain" ;;
  esac
done <"$list"
for f in modules.builtin modules.builtin.modinfo modules.order; do
  [ -f "$kmods/$f" ] && sed -E 's/\.ko\.(xz|zst|gz)$/.ko/' "$kmods/$f" >"$stage/lib/modules/$kver/$f"
done
depmod -b "$stage" "$kver"
# busybox reads the text files only.
rm -f "$stage/lib/modules/$kver"/*.bin
nmods="$(wc -l <"$list")"
rm -f "$list" "$list".*

# --- pack ---------------------------------------------------------------------------------
find "$stage" -exec touch -h -d "@$epoch" {} +
kernel_out="$out/vmlinuz-$arch"
initrd_out="$out/initramfs-$arch"
(cd "$stage" && find . -mindepth 1 -printf '%P\n' | sort |
  cpio --quiet -o -H newc -R 0:0 --reproducible) |
  zstd -q -T1 "-$zlevel" --no-check -c >"$initrd_out.tmp"
mv -f "$initrd_out.tmp" "$initrd_out"
cp "$vmlinuz" "$kernel_out.tmp"
mv -f "$kernel_out.tmp" "$kernel_out"
touch -d "@$epoch" "$kernel_out" "$initrd_out"
rm -rf "$stage"

(cd "$out" && sha256sum "vmlinuz-$arch" "initramfs-$arch" >SHA256SUMS)
echo "$inputs" >"$stamp"
say "kernel $kver, $nmods modules, agent $(basename "$agent"), $(($(date +%s) - start)) s"
for f in "$kernel_out" "$initrd_out"; do
  printf '%s  %10d bytes  sha256 %s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
done
