#!/bin/bash
# tests/vm/migration/payload.sh - the initrd of a guest that can be live-migrated (pmdvm_root=initramfs).
#
# A mounted 9p share blocks migration, so this guest has no host root: its root is the initramfs. This
# script appends to prepare.sh's initramfs an uncompressed cpio with, at the host's own paths:
#   dotnet's host and Microsoft.NETCore.App runtime, bash, busybox as env, the TestPmd build dir (given;
#   at /opt/pmd/testpmd in the guest: a JIT build, or tools/publish-aot.sh's NativeAOT one),
#   the shared libraries they load (found with ldd), and, under /mods-kernel, the guest kernel's e1000e,
#   virtio_net and net_failover modules with their dependencies in load order (for the kernel reference).
# The kernel unpacks the two archives one after the other. Output: $PMD_VM_DIR/initramfs-migratable.img,
# rebuilt only when an input changed; its path is printed on the last line.
# Usage: payload.sh TESTPMD_DIR
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=${PMD_VM_DIR:-/var/tmp/pmd-vm}
APP=$(cd "${1:?usage: payload.sh TESTPMD_DIR}" && pwd)
KVER=$(cat "$D/kver")
DOTNET=$(dirname "$(readlink -f "$(command -v dotnet)")")
RUNTIME=$(ls -d "$DOTNET"/shared/Microsoft.NETCore.App/*/ | sort -V | tail -n 1)
RUNTIME=${RUNTIME%/}
OUT=$D/initramfs-migratable.img
say() { echo "payload: $*" >&2; }

stamp=$( { cat "$D/stamp"; echo "$KVER $RUNTIME"; sha256sum "$0" /bin/bash; find "$APP" -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1)
if [ -f "$OUT" ] && [ "$(cat "$OUT.stamp" 2>/dev/null)" = "$stamp" ]; then say "up to date"; echo "$OUT"; exit 0; fi

stage=$(mktemp -d "$D/payload.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{usr/bin,usr/lib/x86_64-linux-gnu,lib64,mods-kernel}
ln -s usr/lib "$stage/lib"
copy() { mkdir -p "$stage$(dirname "$1")"; cp -a "$1" "$stage$1"; }
mkdir -p "$stage$DOTNET/shared/Microsoft.NETCore.App"
cp -a "$DOTNET/dotnet" "$DOTNET/host" "$stage$DOTNET/"
cp -a "$RUNTIME" "$stage$DOTNET/shared/Microsoft.NETCore.App/"
# At a fixed path: the host's may be under /tmp, which the guest's own tmpfs would hide.
mkdir -p "$stage/opt/pmd/testpmd"; cp -a "$APP/." "$stage/opt/pmd/testpmd/"
cp /bin/bash "$stage/usr/bin/bash"
ln -s /bin/busybox "$stage/usr/bin/env"
mkdir -p "$stage/bin"; ln -s /usr/bin/bash "$stage/bin/bash"   # the base archive adds busybox and its applets to /bin
# Every library the native parts load, resolved to files (the guest has no ld.so.cache: the default paths).
native=(); [ -f "$APP/TestPmd.dll" ] || native=("$APP/TestPmd")   # a NativeAOT build: one executable
for f in /bin/bash "$DOTNET/dotnet" "$DOTNET"/host/fxr/*/*.so "$RUNTIME"/*.so "${native[@]}"; do ldd "$f" 2>/dev/null || true; done \
  | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | sort -u | while read -r lib; do
    case $lib in
      */ld-linux*) cp -L "$lib" "$stage/lib64/$(basename "$lib")" ;;
      *) cp -L "$lib" "$stage/usr/lib/x86_64-linux-gnu/$(basename "$lib")" ;;
    esac
  done
# The kernel reference's drivers, dependencies first.
: > "$stage/mods-kernel/order"
for m in e1000e virtio_net net_failover; do modprobe -S "$KVER" --show-depends "$m"; done \
  | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++' | while read -r ko; do
    name=$(basename "$ko"); name=${name%%.ko*}
    [ -f "$stage/mods-kernel/$name.ko" ] && continue
    case $ko in
      *.ko.xz) xz -dc "$ko" > "$stage/mods-kernel/$name.ko" ;;
      *.ko.zst) zstd -qdc "$ko" > "$stage/mods-kernel/$name.ko" ;;
      *) cp "$ko" "$stage/mods-kernel/$name.ko" ;;
    esac
    echo "$name" >> "$stage/mods-kernel/order"
  done
# Uncompressed and first: the kernel then decompresses only prepare.sh's small gzip archive behind it.
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) > "$OUT.tmp"
cat "$D/initramfs.cpio.gz" >> "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$stamp" > "$OUT.stamp"
say "built $OUT ($(du -h "$OUT" | cut -f1); modules: $(tr '\n' ' ' < "$stage/mods-kernel/order"))"
echo "$OUT"
