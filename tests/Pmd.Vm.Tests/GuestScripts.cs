namespace Pmd.Vm.Tests;

/// <summary>Bash run inside the guest (host / read-only, so the host's bash, iproute2, busybox and dotnet).</summary>
public static class GuestScripts
{
    /// <summary>Shell functions every guest command starts with.</summary>
    public const string Library = """
        # pmd_find_virtio_net: the PCI address of the virtio-net-pci device (modern: 1af4:1041); addresses
        # depend on the firmware, so always look it up by vendor:device.
        pmd_find_virtio_net() {
          local d
          for d in /sys/bus/pci/devices/*; do
            if [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1041 ]; then basename "$d"; return 0; fi
          done
          echo "PMDVM-ERROR: no virtio-net-pci (1af4:1041) in /sys/bus/pci/devices" >&2; return 1
        }
        pmd_driver_of() { local l; if l=$(readlink "/sys/bus/pci/devices/$1/driver"); then basename "$l"; else echo none; fi; }
        pmd_iommu_group() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
        # pmd_bind_vfio ADDR: unbind from its driver, then bind to vfio-pci through driver_override + drivers_probe.
        pmd_bind_vfio() {
          local a=$1 d=/sys/bus/pci/devices/$1
          if [ -e "$d/driver" ]; then echo "$a" > "$d/driver/unbind"; fi
          echo vfio-pci > "$d/driver_override"
          echo "$a" > /sys/bus/pci/drivers_probe
          if [ "$(pmd_driver_of "$a")" != vfio-pci ]; then echo "PMDVM-ERROR: $a did not bind to vfio-pci (driver: $(pmd_driver_of "$a"))" >&2; return 1; fi
        }

        """;

    /// <summary>
    /// Proves what the Pmd tests need: the device, its IOMMU group, both directions of the UDP wire
    /// (with the kernel's virtio_net, before the unbind), vfio-pci binding, /dev/vfio/GROUP,
    /// hugepages and dotnet. The host sends <see cref="SelfTestFrames"/> frames after PMDVM-NET-READY.
    /// </summary>
    public const string SelfTest = Library + """
        set -eu
        echo "PMDVM-KERNEL=$(uname -r)"
        ADDR=$(pmd_find_virtio_net)
        echo "PMDVM-ADDR=$ADDR"
        GROUP=$(pmd_iommu_group "$ADDR")
        echo "PMDVM-IOMMU-GROUP=$GROUP"
        echo "PMDVM-DRIVER-BEFORE=$(pmd_driver_of "$ADDR")"
        # 1. the UDP wire, with the kernel's virtio_net driver (its module comes from the host's /lib/modules over 9p)
        modprobe virtio_net
        IF=$(ls "/sys/bus/pci/devices/$ADDR"/virtio*/net/)
        # negotiated features (set once virtio_net has probed): one character per bit; bit 34 is VIRTIO_F_RING_PACKED
        echo "PMDVM-RING-PACKED=$(cut -c35 "/sys/bus/pci/devices/$ADDR"/virtio*/features)"
        ip link set "$IF" up
        ip addr add 192.0.2.1/24 dev "$IF"
        RX0=$(cat "/sys/class/net/$IF/statistics/rx_packets")
        echo "PMDVM-NET-READY if=$IF mac=$(cat "/sys/class/net/$IF/address")"
        n=0
        for i in $(seq 1 150); do
          n=$(( $(cat "/sys/class/net/$IF/statistics/rx_packets") - RX0 ))
          [ "$n" -ge 16 ] && break
          sleep 0.2
        done
        echo "PMDVM-RX-FRAMES=$n"
        busybox arping -c 3 -w 3 -I "$IF" 192.0.2.2 > /dev/null 2>&1 || true
        echo "PMDVM-TX-DONE"
        # 2. VFIO: unbind from virtio-pci, bind to vfio-pci
        pmd_bind_vfio "$ADDR"
        echo "PMDVM-DRIVER=$(pmd_driver_of "$ADDR")"
        if [ -c "/dev/vfio/$GROUP" ]; then echo "PMDVM-VFIO-DEV=/dev/vfio/$GROUP"; fi
        if [ -c /dev/vfio/vfio ]; then echo "PMDVM-VFIO-CONTAINER=/dev/vfio/vfio"; fi
        HP=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)
        echo "PMDVM-HUGEPAGES=$HP"
        if grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts; then echo "PMDVM-HUGETLBFS=/dev/hugepages"; fi
        echo "PMDVM-DOTNET=$(dotnet --version)"
        [ "$HP" -gt 0 ] && [ -c "/dev/vfio/$GROUP" ]
        echo "PMDVM-SELFTEST-OK"
        """;

    public const int SelfTestFrames = 16;

    /// <summary>Binds the device to vfio-pci and runs TestPmd on it in macswap mode for <paramref name="seconds"/>.</summary>
    public static string TestPmdMacSwap(string testPmdDll, int seconds, string eal = "") => Library + $"""
        set -eu
        ADDR=$(pmd_find_virtio_net)
        echo "PMDVM-ADDR=$ADDR"
        echo "PMDVM-TESTPMD-START"
        set +e
        # TestPmd itself hands the device to vfio-pci: -a is the user asking for it.
        dotnet '{testPmdDll}' {eal} -a "$ADDR" -- --forward-mode=macswap --duration={seconds} < /dev/null
        rc=$?
        echo "PMDVM-TESTPMD-EXIT=$rc"
        exit $rc
        """;

    /// <summary>Runs TestPmd on an address that does not exist; its output lands between PMDVM-BEGIN and PMDVM-END.</summary>
    public static string TestPmdBadAddress(string testPmdDll, string address) => Library + $"""
        set -u
        echo "PMDVM-BEGIN"
        dotnet '{testPmdDll}' -a {address} < /dev/null 2>&1
        rc=$?
        echo "PMDVM-END rc=$rc"
        """;
}
