#!/bin/bash
# tests/vm/run-vm.sh - boot one Pmd test guest under QEMU TCG, run a command in it, wait for power-off.
#
# The guest: q35 (kernel-irqchip=split) + intel-iommu (intremap=on, caching-mode=on), qboot, -m 2048 -smp 2,
# Debian's kernel + the initramfs from prepare.sh, the host's / read-only over virtio-9p (multidevs=remap),
# the results dir as a rw 9p share mounted in the guest at the same path, and the device under test (PMD_VM_NIC):
#   virtio: virtio-net-pci (1af4:1041, disable-legacy=on, iommu_platform=on, ats=on[, packed=on]), or
#   e1000e: QEMU's Intel 82574L (8086:10d3),
#   either one as net0 on a pcie-root-port (rp1), on netdev n0, which carries raw Ethernet frames in UDP datagrams:
#   QEMU listens on 127.0.0.1:$PMD_VM_PORT_GUEST and sends to 127.0.0.1:$PMD_VM_PORT_HOST, where the test's peer is bound.
# In the guest, init loads vfio-pci (+ vfio_iommu_type1), mounts hugetlbfs at /dev/hugepages, tmpfs on /tmp /run
# /var/tmp, and runs the guest command with bash in the host-root chroot with dotnet on PATH.
#
# Env (all optional):
#   PMD_VM_CMD         guest command (bash script text)                       default: 'echo hello from the guest'
#   PMD_VM_RESULTS     results dir (created; becomes the guest's rw share)    default: $PMD_VM_DIR/runs/<time>-<pid>
#   PMD_VM_DIR         cache dir of prepare.sh                                 default: /var/tmp/pmd-vm
#   PMD_VM_PORT_GUEST  UDP port QEMU's netdev binds (host sends frames here) default: 40001
#   PMD_VM_PORT_HOST   UDP port the host-side peer binds (QEMU sends here)   default: 40002
#   PMD_VM_NIC         virtio|e1000e|failover: the device under test         default: virtio
#                      failover: virtio-net-pci net0 with failover=on (the standby, netdev n0) and a hidden
#                      e1000e primary0 with failover_pair_id=net0 and the same MAC on its own root port and
#                      UDP netdev n1 (PMD_VM_PORT_GUEST2 / PMD_VM_PORT_HOST2); QEMU plugs it in once the
#                      guest's virtio driver acks VIRTIO_NET_F_STANDBY.
#   PMD_VM_NO_PRIMARY  1: with failover, no e1000e primary at all                default: 0
#   PMD_VM_MAC         MAC of the device under test                           default: 52:54:00:12:34:56
#   PMD_VM_PACKED      1: packed=on on virtio-net-pci (ignored for e1000e)      default: 0
#   PMD_VM_QMP         QMP unix socket path                                     default: $PMD_VM_RESULTS/qmp.sock
#   PMD_VM_TIMEOUT     seconds until QEMU is killed                             default: 300
#                      (the guest command itself gets PMD_VM_TIMEOUT-25 s when that is >= 10)
#   PMD_VM_HUGEPAGES   2 MiB hugepages reserved in the guest                    default: 128
#   PMD_VM_MEM / PMD_VM_SMP   guest memory (MiB) / vCPUs                        default: 2048 / 2
#   PMD_VM_NETDEV      dgram|socket (fallback: -netdev socket,udp=,localaddr=) default: dgram
#   PMD_VM_IOMMU_AW_BITS  intel-iommu aw-bits (39 or 48)                     default: QEMU 7.2's, 39: IOVAs < 2^39
#   PMD_VM_QEMU_EXTRA  extra QEMU arguments (word-split)
#   PMD_VM_LOGLEVEL    the guest kernel's console loglevel (7: KERN_INFO too, e.g. pciehp's slot events)  default: 4
# For live migration (tests/vm/migration/migrate.py sets these):
#   PMD_VM_INITRD      an initrd that is the whole root (tests/vm/migration/payload.sh): no host-root 9p share,
#                      pmdvm_root=initramfs (see guest/init)
#   PMD_VM_TAP0 / PMD_VM_TAP1  tap devices (existing, in QEMU's network namespace) as the netdevs n0 / n1
#                      instead of the UDP wires
#   PMD_VM_INCOMING    -incoming URI: this QEMU waits for a migrated guest
#   PMD_VM_SERIAL_SOCKET  path: the serial port is a unix socket (QEMU listens) for the guest's console input,
#                      its output still logged to serial.log
#   PMD_VM_QMP_EVENTS  path of a second QMP socket, for a client that only records events
# Results dir afterwards: serial.log (the whole console), guest-output.log (the command's output),
#   exit-status (the command's exit status, written by the guest), qemu.cmd, qemu.log, run-vm.log.
# Exit status: the guest command's, or 124 when QEMU had to be killed at the timeout, 125 on harness errors.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=${PMD_VM_DIR:-/var/tmp/pmd-vm}
RES=${PMD_VM_RESULTS:-$D/runs/$(date +%Y%m%d-%H%M%S)-$$}
PORT_GUEST=${PMD_VM_PORT_GUEST:-40001}; PORT_HOST=${PMD_VM_PORT_HOST:-40002}
PORT_GUEST2=${PMD_VM_PORT_GUEST2:-40003}; PORT_HOST2=${PMD_VM_PORT_HOST2:-40004}
NIC=${PMD_VM_NIC:-virtio}; MAC=${PMD_VM_MAC:-52:54:00:12:34:56}; PACKED=${PMD_VM_PACKED:-0}
TIMEOUT=${PMD_VM_TIMEOUT:-300}; HUGEPAGES=${PMD_VM_HUGEPAGES:-128}
MEM=${PMD_VM_MEM:-2048}; SMP=${PMD_VM_SMP:-2}; NETDEV=${PMD_VM_NETDEV:-dgram}
IOMMU="intel-iommu,intremap=on,caching-mode=on"; [ -n "${PMD_VM_IOMMU_AW_BITS:-}" ] && IOMMU="$IOMMU,aw-bits=$PMD_VM_IOMMU_AW_BITS"

[ -f "$D/initramfs.cpio.gz" ] && [ -e "$D/vmlinuz" ] || { echo "run-vm: run tests/vm/prepare.sh first ($D)" >&2; exit 125; }
mkdir -p "$RES" || exit 125
RES=$(cd "$RES" && pwd)
QMP=${PMD_VM_QMP:-$RES/qmp.sock}
rm -f "$RES/exit-status" "$RES/serial.log" "$RES/guest-output.log" "$QMP"
printf '%s\n' "${PMD_VM_CMD:-echo hello from the guest}" > "$RES/guest-cmd.sh"

DOTNET=$(command -v dotnet || true); [ -n "$DOTNET" ] && DOTNET_DIR=$(dirname "$(readlink -f "$DOTNET")") || DOTNET_DIR=/usr/share/dotnet
GUEST_TMO=0; [ $((TIMEOUT - 25)) -ge 10 ] && GUEST_TMO=$((TIMEOUT - 25))

# udp_netdev ID GUEST_PORT HOST_PORT: a netdev whose frames are UDP datagrams on 127.0.0.1.
udp_netdev() {
  case $NETDEV in
    dgram)  echo "dgram,id=$1,local.type=inet,local.host=127.0.0.1,local.port=$2,remote.type=inet,remote.host=127.0.0.1,remote.port=$3" ;;
    socket) echo "socket,id=$1,udp=127.0.0.1:$3,localaddr=127.0.0.1:$2" ;;
    *) return 1 ;;
  esac
}
NET=$(udp_netdev n0 "$PORT_GUEST" "$PORT_HOST") || { echo "run-vm: PMD_VM_NETDEV=$NETDEV?" >&2; exit 125; }
tap_netdev() { echo "tap,id=$1,ifname=$2,script=no,downscript=no"; }
[ -n "${PMD_VM_TAP0:-}" ] && NET=$(tap_netdev n0 "$PMD_VM_TAP0")
NET1=$(udp_netdev n1 "$PORT_GUEST2" "$PORT_HOST2"); [ -n "${PMD_VM_TAP1:-}" ] && NET1=$(tap_netdev n1 "$PMD_VM_TAP1")
EXTRA_NIC=()
# Same id, netdev and slot for every NIC: QMP set_link n0 and device_del net0 mean the same thing to each.
case $NIC in
  virtio) DUT="virtio-net-pci,id=net0,netdev=n0,mac=$MAC,bus=rp1,romfile=,disable-legacy=on,iommu_platform=on,ats=on"
          [ "$PACKED" = 1 ] && DUT="$DUT,packed=on"
          DESC="virtio packed=$PACKED" ;;
  # An emulated PCIe NIC: its DMA goes through the vIOMMU without virtio's iommu_platform; ring layouts are virtio's only.
  e1000e) DUT="e1000e,id=net0,netdev=n0,mac=$MAC,bus=rp1,romfile="
          DESC="e1000e" ;;
  failover)
          DUT="virtio-net-pci,id=net0,netdev=n0,mac=$MAC,bus=rp1,romfile=,disable-legacy=on,iommu_platform=on,ats=on,failover=on"
          EXTRA_NIC=(-device pcie-root-port,id=rp2,chassis=2,slot=2,bus=pcie.0
                     -netdev "$NET1"
                     -device "e1000e,id=primary0,netdev=n1,mac=$MAC,bus=rp2,romfile=,failover_pair_id=net0")
          DESC="failover (virtio standby + e1000e primary, n1 guest:$PORT_GUEST2 host:$PORT_HOST2)"
          # PMD_VM_NO_PRIMARY=1: the standby alone (a failover guest that has no VF on this host).
          [ "${PMD_VM_NO_PRIMARY:-0}" = 1 ] && { EXTRA_NIC=(); DESC="failover standby without a primary"; } ;;
  *) echo "run-vm: PMD_VM_NIC=$NIC? (virtio, e1000e or failover)" >&2; exit 125 ;;
esac
APPEND="console=ttyS0 quiet loglevel=${PMD_VM_LOGLEVEL:-4} panic=-1 intel_iommu=on hugepages=$HUGEPAGES pmdvm_results=$RES pmdvm_dotnet=$DOTNET_DIR pmdvm_timeout=$GUEST_TMO"
INITRD=$D/initramfs.cpio.gz
ROOTFS=(-fsdev local,id=fs0,path=/,security_model=none,readonly=on,multidevs=remap -device virtio-9p-pci,fsdev=fs0,mount_tag=hostroot)
if [ -n "${PMD_VM_INITRD:-}" ]; then INITRD=$PMD_VM_INITRD; ROOTFS=(); APPEND="$APPEND pmdvm_root=initramfs"; fi
SERIAL=(-serial file:"$RES/serial.log")
[ -n "${PMD_VM_SERIAL_SOCKET:-}" ] && SERIAL=(-chardev socket,id=ser0,path="$PMD_VM_SERIAL_SOCKET",server=on,wait=off,logfile="$RES/serial.log" -serial chardev:ser0)
MIGRATION=()
[ -n "${PMD_VM_QMP_EVENTS:-}" ] && MIGRATION+=(-qmp unix:"$PMD_VM_QMP_EVENTS",server=on,wait=off)
[ -n "${PMD_VM_INCOMING:-}" ] && MIGRATION+=(-incoming "$PMD_VM_INCOMING")

ARGS=(qemu-system-x86_64 -name pmd-vm -machine q35,kernel-irqchip=split -accel tcg -cpu max -smp "$SMP" -m "$MEM"
  -bios /usr/share/qemu/qboot.rom -device "$IOMMU"
  -kernel "$D/vmlinuz" -initrd "$INITRD" -append "$APPEND"
  "${ROOTFS[@]}"
  -fsdev local,id=fs1,path="$RES",security_model=none -device virtio-9p-pci,fsdev=fs1,mount_tag=results
  -device pcie-root-port,id=rp1,chassis=1,slot=1,bus=pcie.0
  -netdev "$NET" -device "$DUT" "${EXTRA_NIC[@]}"
  -qmp unix:"$QMP",server=on,wait=off "${MIGRATION[@]}"
  -display none "${SERIAL[@]}" -monitor none -no-reboot -nodefaults)
# shellcheck disable=SC2206
[ -n "${PMD_VM_QEMU_EXTRA:-}" ] && ARGS+=(${PMD_VM_QEMU_EXTRA})
printf '%q ' "${ARGS[@]}" > "$RES/qemu.cmd"; echo >> "$RES/qemu.cmd"

log() { echo "run-vm: $(date +%T.%N | cut -c1-12) $*" | tee -a "$RES/run-vm.log" >&2; }
: > "$RES/run-vm.log"
T0=$(date +%s.%N)
"${ARGS[@]}" > "$RES/qemu.log" 2>&1 &
QPID=$!
echo "$QPID" > "$RES/qemu.pid"
log "qemu pid $QPID, results $RES, netdev $NETDEV guest:$PORT_GUEST host:$PORT_HOST, nic $DESC, timeout ${TIMEOUT}s"
on_signal() { kill "$QPID" 2>/dev/null; exit 125; }
trap on_signal INT TERM

KILLED=0
deadline=$(( $(date +%s) + TIMEOUT ))
while kill -0 "$QPID" 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "timeout after ${TIMEOUT}s: killing qemu $QPID"; KILLED=1
    kill "$QPID" 2>/dev/null; sleep 2; kill -9 "$QPID" 2>/dev/null
    break
  fi
  sleep 0.2
done
wait "$QPID" 2>/dev/null; QRC=$?
rm -f "$RES/qemu.pid"
WALL=$(echo "$(date +%s.%N) - $T0" | bc)
if [ "$KILLED" = 1 ]; then RC=124
elif [ -s "$RES/exit-status" ]; then RC=$(cat "$RES/exit-status")
else log "qemu exited ($QRC) without an exit status from the guest"; tail -n 5 "$RES/qemu.log" >&2; RC=125
fi
log "done in ${WALL}s wall, qemu exit $QRC, guest command exit $RC"
exit "$RC"
