# shellcheck shell=bash
# The kernel cache shared by hookos/build.sh and os-image/build.sh (sourced, not run).
#
# Both builds use the kernel of Debian's linux-image-amd64: the .deb is downloaded once into
# CACHE (default <repo>/target/hookos-cache, HOOKOS_CACHE to change) and extracted once
# beside it into CACHE/extract-<deb name>, with modules.dep computed. Atomic, so that an
# interrupted build (Ctrl-C, a killed test) never hands a half-written .deb or a
# half-extracted kernel to the next build, whichever script it is:
#   - the .deb is downloaded into a temporary directory in CACHE, then renamed into place;
#   - it is extracted (and depmod run) into a temporary directory in CACHE, which is renamed
#     to extract-<deb name> only when complete (it then holds the marker `.complete`);
#   - both run under a lock (flock CACHE/.lock), so two builds at once wait for each other,
#     and temporary directories left by an interrupted build are removed.
# Every fallback (offline, stale package lists, an older cached kernel) says so on stderr.
#
#   source "$repo/scripts/lib/kernel-cache.sh"
#   deb="$(kernel_cache_deb "$cache")"            # path of the kernel .deb
#   kx="$(kernel_cache_extract "$cache" "$deb")"  # its extraction: boot/, lib/modules/<ver>/
#   kver="$(kernel_cache_version "$kx")"

kc_say() { echo "kernel-cache: $*" >&2; }
kc_die() { kc_say "error: $*"; exit 1; }

# Takes CACHE's lock on file descriptor 9 for the rest of the (sub)shell, and removes what
# interrupted builds left (only they can have: the lock is ours).
kc_lock() {
  exec 9>"$1/.lock"
  if ! flock -n 9; then
    kc_say "another build holds $1/.lock; waiting for it"
    flock 9
  fi
  local stale
  for stale in "$1"/.download.* "$1"/.extract.*; do
    [ -e "$stale" ] || continue
    kc_say "removing $(basename "$stale"), left by an interrupted build"
    rm -rf "$stale"
  done
}

# Sets pkg and ver: the versioned package linux-image-amd64 depends on and its candidate.
kc_resolve_pkg() {
  pkg="$(apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')"
  ver=""
  [ -n "$pkg" ] && ver="$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }')"
  [ -n "$pkg" ] && [ -n "$ver" ] && [ "$ver" != "(none)" ]
}

# Downloads $pkg=$ver into CACHE through a temporary directory: prints the file's path.
kc_download() {
  local cache="$1" tmp file
  tmp="$(mktemp -d "$cache/.download.XXXXXX")"
  if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2); then
    rm -rf "$tmp"
    return 1
  fi
  file="$(ls -1 "$tmp"/*.deb 2>/dev/null | head -n 1)"
  [ -s "$file" ] || { rm -rf "$tmp"; return 1; }
  mv -f "$file" "$cache/"
  rm -rf "$tmp"
  echo "$cache/$(basename "$file")"
}

# Prints the path of the kernel .deb in CACHE, downloading the candidate version when it is
# not there. Offline (apt cannot resolve the package) it uses the newest cached one, loudly.
kernel_cache_deb() {
  local cache="$1" file cached
  (
    kc_lock "$cache"
    cached="$(ls -1 "$cache"/linux-image-[0-9]*_amd64.deb 2>/dev/null | sort -V | tail -n 1 || true)"
    if ! kc_resolve_pkg; then
      if [ -n "$cached" ]; then
        kc_say "FALLBACK: apt cannot resolve linux-image-amd64 (no package lists?);" \
          "using the cached $(basename "$cached"), which may be older than the archive's"
        echo "$cached"
        exit 0
      fi
      kc_say "FALLBACK: apt cannot resolve linux-image-amd64; refreshing the package lists"
      apt-get update -qq >&2 || kc_die "apt-get update failed"
      kc_resolve_pkg || kc_die "cannot resolve linux-image-amd64 to a versioned kernel package"
    fi
    # apt-get download names the file <pkg>_<version with ':' as %3a>_<arch>.deb
    file="$cache/${pkg}_${ver//:/%3a}_amd64.deb"
    if [ -s "$file" ]; then
      kc_say "kernel package $pkg $ver (cached)"
      echo "$file"
      exit 0
    fi
    kc_say "downloading kernel package $pkg $ver"
    if ! file="$(kc_download "$cache")"; then
      # Stale lists name a version the mirror no longer has: refresh and resolve again.
      kc_say "FALLBACK: downloading $pkg $ver failed; refreshing the package lists"
      apt-get update -qq >&2 || kc_die "apt-get update failed"
      kc_resolve_pkg || kc_die "cannot resolve linux-image-amd64 to a versioned kernel package"
      file="$(kc_download "$cache")" || kc_die "apt-get download $pkg=$ver failed"
    fi
    echo "$file"
  )
}

# Prints the directory DEB is extracted in (CACHE/extract-<deb name>, complete with
# modules.dep), extracting it first when it is not complete.
kernel_cache_extract() {
  local cache="$1" deb="$2" kx tmp kver
  kx="$cache/extract-$(basename "$deb" .deb)"
  if [ -f "$kx/.complete" ]; then
    echo "$kx"
    return
  fi
  (
    kc_lock "$cache"
    # Another build may have finished it while this one waited for the lock.
    if [ ! -f "$kx/.complete" ]; then
      if [ -e "$kx" ]; then
        kc_say "$(basename "$kx") is incomplete (an interrupted build, or an older layout): extracting again"
        rm -rf "$kx"
      fi
      kc_say "extracting $(basename "$deb")"
      tmp="$(mktemp -d "$cache/.extract.XXXXXX")"
      dpkg-deb -x "$deb" "$tmp" || kc_die "dpkg-deb -x $deb failed"
      kver="$(kernel_cache_version "$tmp")"
      [ -f "$tmp/boot/vmlinuz-$kver" ] || kc_die "$deb has no boot/vmlinuz-$kver"
      # Debian ships no modules.dep: compute it once for the whole package.
      depmod -b "$tmp" "$kver" || kc_die "depmod for $kver failed"
      touch "$tmp/.complete"
      mv "$tmp" "$kx"
    fi
    echo "$kx"
  )
}

# Prints the kernel version of an extraction (its one lib/modules/<version>).
kernel_cache_version() {
  local kver
  kver="$(ls -1 "$1/lib/modules" 2>/dev/null | head -n 1)"
  [ -n "$kver" ] || kc_die "no lib/modules/<version> in $1"
  echo "$kver"
}
