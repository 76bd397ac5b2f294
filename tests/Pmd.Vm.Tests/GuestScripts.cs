namespace Pmd.Vm.Tests;

/// <summary>Bash run inside the guest (host / read-only, so the host's bash, iproute2, busybox and dotnet).</summary>
public static class GuestScripts
{
    /// <summary>Shell functions every guest command starts with.</summary>
    public const string Library = """
        # pmd_find_pci VENDOR DEVICE (as sysfs spells them, e.g. 0x8086 0x10d3): the PCI address of the first such
        # device; addresses depend on the firmware, so always look devices up by vendor:device.
        pmd_find_pci() {
          local d
          for d in /sys/bus/pci/devices/*; do
            if [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ]; then basename "$d"; return 0; fi
          done
          echo "PMDVM-ERROR: no PCI device ${1#0x}:${2#0x} in /sys/bus/pci/devices" >&2; return 1
        }
        # pmd_find_virtio_net: the virtio-net-pci device (modern: 1af4:1041).
        pmd_find_virtio_net() { pmd_find_pci 0x1af4 0x1041; }
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
        # pmd_feed FILE: prints FILE's lines as they appear, up to and including a line "quit". The host appends
        # to FILE through the results share, which is mounted cache=none, so each read sees what the host wrote.
        # A last line without its newline is not complete yet: read leaves it for the next round.
        pmd_feed() {
          local sent=0 n line
          while :; do
            n=0
            if [ -f "$1" ]; then
              while IFS= read -r line; do
                n=$((n + 1))
                if [ "$n" -le "$sent" ]; then continue; fi
                printf '%s\n' "$line"; sent=$n
                if [ "$line" = quit ]; then return 0; fi
              done < "$1"
            fi
            sleep 0.2
          done
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

    /// <summary>Runs TestPmd on the guest NIC (it binds the device to vfio-pci itself) in macswap mode for <paramref name="seconds"/>.</summary>
    public static string TestPmdMacSwap(string testPmd, int seconds, string eal = "", GuestNic nic = GuestNic.Virtio) => Library + $"""
        set -eu
        ADDR=$(pmd_find_pci {nic.PciId().Vendor} {nic.PciId().Device})
        echo "PMDVM-ADDR=$ADDR"
        echo "PMDVM-TESTPMD-START"
        set +e
        # TestPmd itself hands the device to vfio-pci: -a is the user asking for it.
        {TestPmdBuild.Command(testPmd)} {eal} -a "$ADDR" -- --forward-mode=macswap --duration={seconds} < /dev/null
        rc=$?
        echo "PMDVM-TESTPMD-EXIT=$rc"
        exit $rc
        """;

    /// <summary>The file in the results dir whose lines <see cref="TestPmdInteractive"/> feeds to TestPmd's stdin.</summary>
    public const string TestPmdCommandsFile = "testpmd-commands";

    /// <summary>
    /// Runs TestPmd on the guest NIC in interactive mode, forwarding at once (-i --auto-start plus
    /// <paramref name="appArgs"/>), with stdin fed from <see cref="TestPmdCommandsFile"/>: the host
    /// appends commands when it is ready for them (<see cref="TestPmdConsole"/>), e.g. "stop",
    /// "show port xstats 0", "quit". So the test, not a sleep, decides when the counters are read;
    /// --duration cannot be combined with -i, and only interactive mode shows xstats.
    /// </summary>
    public static string TestPmdInteractive(string testPmd, GuestNic nic, string appArgs, string eal = "", int runs = 1) => Library + $"""
        set -eu
        ADDR=$(pmd_find_pci {nic.PciId().Vendor} {nic.PciId().Device})
        echo "PMDVM-ADDR=$ADDR"
        set +e
        # Run r reads its commands from {TestPmdCommandsFile} (run 1) or {TestPmdCommandsFile}-r: a restarted
        # TestPmd must find its devices again by itself.
        for r in $(seq 1 {runs}); do
          commands="$PMD_VM_RESULTS/{TestPmdCommandsFile}"; [ "$r" -gt 1 ] && commands="$commands-$r"
          # A fifo rather than a pipe: the feeder can then be killed by its pid if TestPmd ends without reading "quit".
          rm -f /tmp/testpmd-stdin; mkfifo /tmp/testpmd-stdin
          pmd_feed "$commands" > /tmp/testpmd-stdin 2> /dev/null &
          feeder=$!
          echo "PMDVM-TESTPMD-START run=$r"
          {TestPmdBuild.Command(testPmd)} {eal} -a "$ADDR" -- -i --auto-start {appArgs} < /tmp/testpmd-stdin
          rc=$?
          kill "$feeder" 2> /dev/null
          echo "PMDVM-TESTPMD-EXIT=$rc run=$r"
          [ "$rc" -eq 0 ] || break
        done
        exit $rc
        """;

    /// <summary>Runs TestPmd on an address that does not exist; its output lands between PMDVM-BEGIN and PMDVM-END.</summary>
    public static string TestPmdBadAddress(string testPmd, string address) => Library + $"""
        set -u
        echo "PMDVM-BEGIN"
        {TestPmdBuild.Command(testPmd)} -a {address} < /dev/null 2>&1
        rc=$?
        echo "PMDVM-END rc=$rc"
        """;

    /// <summary>
    /// A first TestPmd holds the NIC; a second one asks for the same address. The second one's output
    /// lands between PMDVM-BEGIN and PMDVM-END; the first is stopped afterwards.
    /// </summary>
    public static string TestPmdBusyDevice(string testPmd, GuestNic nic) => Library + $"""
        set -u
        ADDR=$(pmd_find_pci {nic.PciId().Vendor} {nic.PciId().Device}) || exit 1
        mkfifo /tmp/holder-in
        {TestPmdBuild.Command(testPmd)} -a "$ADDR" -- -i < /tmp/holder-in > /tmp/holder.log 2>&1 &
        HOLDER=$!
        exec 3> /tmp/holder-in
        for i in $(seq 1 600); do grep -q 'link state change event (up)' /tmp/holder.log && break; sleep 0.2; done
        echo "PMDVM-HOLDER: $(grep -c 'link state change event (up)' /tmp/holder.log) link-up line(s)"
        echo "PMDVM-BEGIN"
        {TestPmdBuild.Command(testPmd)} -a "$ADDR" < /dev/null 2>&1
        rc=$?
        echo "PMDVM-END rc=$rc"
        echo quit >&3
        exec 3>&-
        wait $HOLDER
        echo "PMDVM-HOLDER-EXIT=$?"
        """;
}
