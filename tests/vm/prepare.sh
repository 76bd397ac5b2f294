#!/bin/bash
# tests/vm/prepare.sh - make this host ready to boot the Pmd test guest (idempotent; run as root).
#
#  1. apt-get installs what is missing (checked with dpkg-query first):
#       qemu-system-x86 (QEMU 7.2 + qboot.rom), linux-image-amd64 (the guest kernel and its modules),
#       busybox-static (the initramfs userland), cpio, kmod (modprobe --show-depends), xz-utils, zstd
#  2. builds, for the newest kernel found under /boot (never hard-coded), into the cache dir
#       $PMD_VM_DIR (default /var/tmp/pmd-vm):
#         vmlinuz                    -> /boot/vmlinuz-<kver> (symlink)
#         initramfs.cpio.gz          busybox-static + tests/vm/guest/init + the modules listed below
#         kver                       the kernel version the initramfs belongs to
#         stamp                      hash of every input; when it is unchanged nothing is rebuilt
#     Modules: the 9p root (9p, 9pnet_virtio, virtio_pci) and VFIO (vfio_pci, vfio_iommu_type1).
#     Their dependencies are resolved with `modprobe -S <kver> --show-depends` (i.e. modules.dep), in load order.
#
# Env: PMD_VM_DIR (cache dir), PMD_VM_KVER (force a kernel version present in /boot and /lib/modules),
#      PMD_VM_NO_APT=1 (never call apt-get; fail if something is missing), PMD_VM_REBUILD=1 (ignore the stamp).
# Prints the cache dir on its last line.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=${PMD_VM_DIR:-/var/tmp/pmd-vm}
MODULES=(9p 9pnet_virtio virtio_pci vfio_pci vfio_iommu_type1)
PKGS=(qemu-system-x86 linux-image-amd64 busybox-static cpio kmod xz-utils zstd)
say() { echo "prepare: $*" >&2; }

[ "$(uname -s)" = Linux ] || { say "needs Linux"; exit 1; }

# --- 1. packages
missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${PMD_VM_NO_APT:-0}" = 1 ] && { say "missing packages: ${missing[*]} (PMD_VM_NO_APT=1)"; exit 1; }
  [ "$(id -u)" = 0 ] || { say "missing packages: ${missing[*]}; run as root to install them"; exit 1; }
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # INITRD=No: the host never boots this kernel, so skip the (slow) update-initramfs of its postinst hook.
  if ! INITRD=No apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
    apt-get update -q >&2
    INITRD=No apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
fi
for f in /usr/bin/qemu-system-x86_64 /usr/share/qemu/qboot.rom /bin/busybox; do
  [ -e "$f" ] || { say "$f is missing after install"; exit 1; }
done

# --- 2. kernel version found at run time
if [ -n "${PMD_VM_KVER:-}" ]; then KVER=$PMD_VM_KVER
else
  KVER=
  for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V); do
    [ -f "/lib/modules/$k/modules.dep" ] && KVER=$k
  done
fi
[ -n "$KVER" ] && [ -f "/boot/vmlinuz-$KVER" ] && [ -f "/lib/modules/$KVER/modules.dep" ] \
  || { say "no kernel with modules found under /boot and /lib/modules"; exit 1; }

# The modules, dependencies first, de-duplicated ("builtin" ones need nothing).
mapfile -t KOS < <(for m in "${MODULES[@]}"; do
    modprobe -S "$KVER" --show-depends "$m" || { say "module $m not found for $KVER"; exit 1; }
  done | awk '$1=="insmod"{print $2}' | awk '!seen[$0]++')

# --- 3. the initramfs, unless every input is unchanged
# Contents only (not path spellings): kernel version, init, this script, busybox, every module.
stamp=$( { echo "$KVER"; for f in "$HERE/guest/init" "$HERE/prepare.sh" /bin/busybox "${KOS[@]}"; do echo "$(basename "$f") $(sha256sum < "$f")"; done; } | sha256sum | cut -d' ' -f1)
mkdir -p "$D"
if [ "${PMD_VM_REBUILD:-0}" != 1 ] && [ -f "$D/initramfs.cpio.gz" ] && [ "$(cat "$D/stamp" 2>/dev/null)" = "$stamp" ]; then
  say "up to date ($KVER, $D)"
else
  say "building initramfs for $KVER (${#KOS[@]} modules)"
  stage=$(mktemp -d "$D/stage.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage"/{bin,dev,proc,sys,newroot,mods}
  cp /bin/busybox "$stage/bin/busybox"
  for a in sh mount umount insmod mkdir chroot poweroff sleep cat echo ls grep sed cut cp sync; do ln -s busybox "$stage/bin/$a"; done
  : > "$stage/mods/order"
  for ko in "${KOS[@]}"; do
    name=$(basename "$ko"); name=${name%%.ko*}
    case $ko in  # busybox insmod takes plain .ko files
      *.ko.xz)  xz -dc "$ko" > "$stage/mods/$name.ko" ;;
      *.ko.zst) zstd -qdc "$ko" > "$stage/mods/$name.ko" ;;
      *.ko.gz)  gzip -dc "$ko" > "$stage/mods/$name.ko" ;;
      *)        cp "$ko" "$stage/mods/$name.ko" ;;
    esac
    echo "$name" >> "$stage/mods/order"
  done
  install -m 755 "$HERE/guest/init" "$stage/init"
  (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$D/initramfs.cpio.gz.tmp"
  mv "$D/initramfs.cpio.gz.tmp" "$D/initramfs.cpio.gz"
  echo "$stamp" > "$D/stamp"
  say "modules: $(tr '\n' ' ' < "$stage/mods/order")"
fi
echo "$KVER" > "$D/kver"
ln -sfn "/boot/vmlinuz-$KVER" "$D/vmlinuz"
echo "$D"
