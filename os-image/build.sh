#!/usr/bin/env bash
# Builds the lab's OS image: a small bootable raw disk that `ironbell lab` installs with
# image2disk, written as `lab-os.raw.zst` (plus `lab-os.raw.zst.sha256`) in OUT_DIR
# (default <repo>/target/os-image).
#
#   bash os-image/build.sh [OUT_DIR]
#
# Everything comes from Debian packages (run as root on bookworm; scripts/setup installs
# them): the kernel of linux-image-amd64 (the same package HookOS uses, from its download
# cache), busybox-static, SYSLINUX for BIOS and a standalone GRUB for UEFI. Nothing is
# mounted and no loop device is used: the partitions are built as files (mkfs.vfat +
# mtools, mkfs.ext4 -d) and copied into the disk at their offsets.
#
# Layout (MBR, 64 MiB; the native variant's root is larger):
#   p1  32 MiB  FAT, type EF, active: vmlinuz, initrd.img, ldlinux.sys + syslinux.cfg
#               (BIOS, syslinux's mbr.bin in the MBR), EFI/BOOT/BOOTX64.EFI (UEFI)
#   p2  31 MiB  ext4, label ironbell-root: the root file system (busybox and os-image/init)
# The initrd loads the virtio, NVMe/AHCI, ext4 and power-button (button, evdev) modules,
# mounts the partition labelled ironbell-root and switches to it. See os-image/README.md.
#
# Environment: HOOKOS_CACHE (where the kernel .deb is kept, shared with hookos/build.sh),
# SOURCE_DATE_EPOCH (file times, default 0), NATIVE_IRONBELL (below).
#
# The native variant (NATIVE_IRONBELL=<path of an ironbell binary>): the OS of a control-plane
# machine of the `native` node bootstrapper, which runs a member of the cluster's etcd and a
# replica of its plane. The root also holds that binary (stripped) as /usr/local/bin/ironbell,
# Debian's etcd (etcd-server) as /usr/bin/etcd, the shared libraries either needs (none for
# the static musl build), and Debian's iPXE binaries in /usr/lib/ipxe (which the replica's
# boot service serves); the root partition is sized to hold them and etcd's data (its
# write-ahead log preallocates 64 MiB segments). init then hands a native user-data to
# `ironbell node up` (see os-image/init).
set -euo pipefail
umask 022
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="${1:-$repo/target/os-image}"
cache="${HOOKOS_CACHE:-$repo/target/hookos-cache}"
epoch="${SOURCE_DATE_EPOCH:-0}"
start=$(date +%s)

say() { echo "os-image: $*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (file owners in the root file system)"
for tool in dpkg-deb depmod modprobe sfdisk mkfs.vfat mcopy mmd syslinux grub-mkstandalone \
  mkfs.ext4 cpio zstd apt-get apt-cache sha256sum flock; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup"
done
[ -x /bin/busybox ] || die "/bin/busybox is missing: install busybox-static"
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || die "syslinux's mbr.bin is missing: install syslinux-common"
[ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || die "ldlinux.c32 is missing: install syslinux-common"

mkdir -p "$out" "$cache"
out="$(cd "$out" && pwd)"
cache="$(cd "$cache" && pwd)"

# --- the kernel -------------------------------------------------------------------------
# The cache shared with hookos/build.sh, downloaded and extracted atomically
# (scripts/lib/kernel-cache.sh).
source "$repo/scripts/lib/kernel-cache.sh"
deb="$(kernel_cache_deb "$cache")"
kx="$(kernel_cache_extract "$cache" "$deb")"
kver="$(kernel_cache_version "$kx")"
[ -f "$kx/boot/vmlinuz-$kver" ] || die "no kernel in $deb"
say "kernel $kver"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- initrd: drivers, find the root, switch to it -----------------------------------------
ird="$work/initrd"
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
cp /bin/busybox "$ird/bin/busybox"
for applet in sh mount umount switch_root modprobe findfs blkid sleep echo cat ls mkdir; do
  ln -s busybox "$ird/bin/$applet"
done
mods="virtio_pci virtio_blk virtio_net virtio_scsi sd_mod nvme ahci ata_piix e1000 e1000e crc32c_generic crc32c_intel ext4 button evdev"
for m in $mods; do
  modprobe -d "$kx" -S "$kver" --show-depends "$m" 2>/dev/null |
    awk '$1 == "insmod" { print $2 }'
done | sort -u | while read -r ko; do
  rel="${ko#"$kx"/}"
  mkdir -p "$ird/$(dirname "$rel")"
  cp "$ko" "$ird/$rel"
done
cp "$kx/lib/modules/$kver/modules.order" "$kx/lib/modules/$kver/modules.builtin" "$ird/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$ird" "$kver"
install -m 0755 "$here/initrd-init" "$ird/init"
sed -i "s/@MODULES@/$mods/" "$ird/init"

# --- the root file system -----------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/{bin,sbin,etc/ironbell,dev,proc,sys,run,tmp,root}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$here/init" "$root/sbin/init"
install -m 0755 "$here/udhcpc.script" "$root/etc/udhcpc.script"
echo "ironbell lab OS (busybox $(/bin/busybox | head -n 1 | awk '{print $2}'), kernel $kver)" >"$root/etc/issue"
echo lab-os >"$root/etc/hostname"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf '127.0.0.1 localhost\n' >"$root/etc/hosts"
chmod 1777 "$root/tmp"
if [ -n "${NATIVE_IRONBELL:-}" ]; then
  [ -x "$NATIVE_IRONBELL" ] || die "NATIVE_IRONBELL=$NATIVE_IRONBELL is not an executable"
  command -v etcd >/dev/null || die "etcd is missing: install etcd-server"
  mkdir -p "$root/usr/local/bin" "$root/usr/bin" "$root/usr/lib/ipxe" "$root/var/lib"
  strip -o "$root/usr/local/bin/ironbell" "$NATIVE_IRONBELL" 2>/dev/null ||
    cp "$NATIVE_IRONBELL" "$root/usr/local/bin/ironbell"
  cp "$(command -v etcd)" "$root/usr/bin/etcd"
  # The dynamic loader and libraries, at the paths the binaries name (`ldd` prints nothing
  # usable for a static binary).
  for bin in "$root/usr/local/bin/ironbell" "$root/usr/bin/etcd"; do
    ldd "$bin" 2>/dev/null | awk '/=> \// { print $3 } /^[[:space:]]*\// { print $1 }'
  done | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  for f in undionly.kpxe ipxe.efi snponly.efi; do
    [ -f "/usr/lib/ipxe/$f" ] && cp "/usr/lib/ipxe/$f" "$root/usr/lib/ipxe/$f"
  done
  echo "ironbell lab OS, native plane (etcd $(etcd --version | awk '/^etcd Version/ {print $3}'), ironbell), kernel $kver" >"$root/etc/issue"
fi
find "$root" "$ird" -exec touch -h -d "@$epoch" {} +

# --- partitions ---------------------------------------------------------------------------
sector=512
p1_start=2048
p1_sectors=$((32 * 1024 * 1024 / sector))
p2_start=$((p1_start + p1_sectors))
total_mib=64
if [ -n "${NATIVE_IRONBELL:-}" ]; then
  # The root's contents, 30 % for the file system, and 256 MiB for etcd (two 64 MiB
  # write-ahead log segments, one preallocated ahead) and the logs.
  total_mib=$((33 + $(du -sm "$root" | cut -f1) * 13 / 10 + 256))
fi
total_sectors=$((total_mib * 1024 * 1024 / sector))
p2_sectors=$((total_sectors - p2_start))

(cd "$ird" && find . | sort | cpio --quiet -o -H newc -R 0:0 --reproducible) | zstd -q -19 >"$work/initrd.img"

cat >"$work/syslinux.cfg" <<CFG
SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT lab
LABEL lab
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND console=tty0 console=ttyS0,115200 loglevel=4
CFG
cat >"$work/grub.cfg" <<CFG
serial --unit=0 --speed=115200
terminal_output serial console
set timeout=0
search --no-floppy --set=root --label LABBOOT
linux /vmlinuz console=tty0 console=ttyS0,115200 loglevel=4
initrd /initrd.img
boot
CFG
grub-mkstandalone -O x86_64-efi -o "$work/BOOTX64.EFI" \
  --modules="part_msdos fat search search_label linux normal serial terminal" \
  --locales= --themes= --fonts= "boot/grub/grub.cfg=$work/grub.cfg" 2>/dev/null ||
  die "grub-mkstandalone failed (install grub-efi-amd64-bin)"

fat="$work/p1.img"
truncate -s $((p1_sectors * sector)) "$fat"
mkfs.vfat -F 16 -n LABBOOT -i 1ab0b007 -h "$p1_start" --invariant "$fat" >/dev/null 2>&1 ||
  mkfs.vfat -F 16 -n LABBOOT -i 1ab0b007 -h "$p1_start" "$fat" >/dev/null
export MTOOLS_SKIP_CHECK=1
mcopy -i "$fat" "$kx/boot/vmlinuz-$kver" ::/vmlinuz
mcopy -i "$fat" "$work/initrd.img" ::/initrd.img
mcopy -i "$fat" "$work/syslinux.cfg" ::/syslinux.cfg
mcopy -i "$fat" /usr/lib/syslinux/modules/bios/ldlinux.c32 ::/ldlinux.c32
mmd -i "$fat" ::/EFI ::/EFI/BOOT
mcopy -i "$fat" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
syslinux --install "$fat"

ext="$work/p2.img"
truncate -s $((p2_sectors * sector)) "$ext"
E2FSPROGS_FAKE_TIME="$epoch" mkfs.ext4 -q -F -L ironbell-root -U 1ab0e5e0-0000-4000-8000-000000000002 \
  -E root_owner=0:0,hash_seed=1ab0e5e0-0000-4000-8000-000000000003 -T default -d "$root" "$ext"

# --- the disk -----------------------------------------------------------------------------
disk="$work/lab-os.raw"
truncate -s $((total_sectors * sector)) "$disk"
sfdisk -q "$disk" <<PART
label: dos
label-id: 0x1ab0d15c
start=$p1_start, size=$p1_sectors, type=ef, bootable
start=$p2_start, size=$p2_sectors, type=83
PART
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$fat" of="$disk" bs=$sector seek=$p1_start conv=notrunc,sparse status=none
dd if="$ext" of="$disk" bs=$sector seek=$p2_start conv=notrunc,sparse status=none

zstd -q -f -T0 -12 "$disk" -o "$out/lab-os.raw.zst"
(cd "$out" && sha256sum lab-os.raw.zst >lab-os.raw.zst.sha256)
say "$out/lab-os.raw.zst: $(stat -c %s "$out/lab-os.raw.zst") bytes ($((total_sectors * sector / 1048576)) MiB raw; kernel $(stat -c %s "$kx/boot/vmlinuz-$kver"), initrd $(stat -c %s "$work/initrd.img")) in $(($(date +%s) - start)) s"
