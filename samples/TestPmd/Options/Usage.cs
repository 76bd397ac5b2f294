namespace Pmd.TestPmd.Options;

/// <summary>The --help text: DPDK's flags that Pmd's testpmd understands, and Pmd's own.</summary>
internal static class Usage
{
    public const string Text = """
        Usage: testpmd [EAL options] -- [testpmd options]

        EAL options (before --):
          --vdev DEVARGS          add a virtual device, e.g. net_virtio_user0,path=/tmp/vhost.sock (repeatable)
          -a PCI_ADDR             add a PCI device (allow-list), e.g. 0000:00:04.0 (repeatable)
          -l LCORES               lcores to use, e.g. 0-1 or 0,2; the first is the main lcore, each other
                                  one a forwarding thread pinned to that CPU (default: all CPUs)
          --main-lcore N          make lcore N the main lcore instead of the first
          --no-huge               put mbuf pools in 4 KiB pages instead of hugepages
          --iova-mode=va|pa       device addresses: virtual (default) or physical (an IOMMU with 39 address bits)
          --log-level=[TYPE:]LVL  log LVL (1-8 or emergency..debug, as DPDK) and up, for loggers whose name starts
                                  with TYPE (e.g. pmd.hotplug:info), or for all (default: warning; repeatable)
          --file-prefix X         DPDK's runtime directory name (default rte): the telemetry socket is
                                  /var/run/dpdk/X/dpdk_telemetry.v2 (for root), read with dpdk-telemetry.py -f X
          --no-telemetry          no telemetry socket
          --no-pci, --in-memory, --single-file-segments, -m N
                                  accepted for DPDK command lines, and ignored

        testpmd options (after --):
          -i, --interactive       read commands from stdin (prompt "testpmd> "; type 'help')
          -a, --auto-start        start forwarding at once in interactive mode
          --tx-first              send one burst per stream before forwarding starts
          --record-core-cycles    time busy bursts; print the CPU cost per packet on stop
          --forward-mode=MODE     io (default), mac, macswap, rxonly, txonly, flowgen, icmpecho
          --forward-mode=csum     also: checksums and TSO as 'csum set' and 'tso set' say, per TX port
          --txpkts=N[,N...]       txonly/flowgen frame size in bytes (default 64); a list: txonly's
                                  segment lengths, each up to 2048, the headers in the first
          --tx-offloads=0xN       DPDK's TX offload bits for every port (IPV4_CKSUM 0x2, UDP_CKSUM 0x4,
                                  TCP_CKSUM 0x8, TCP_TSO 0x20, MULTI_SEGS 0x8000); csum mode's hw settings
          --cmdline-file=FILE     run FILE's interactive commands (one per line) once the ports are up,
                                  before forwarding (e.g. port stop 0, csum set udp hw 0, port start 0)
          --enable-rx-cksum       RX checksum offload on every port (the verdicts csum counts)
          --enable-lro            large receive (TCP coalescing) on every port
          --burst=N               packets per burst, 1..512 (default 32)
          --rxq=N, --txq=N        queues per port (default 1)
          --rxd=N, --txd=N        descriptors per queue (default: the driver's)
          --nb-cores=N            forwarding lcores to use (default 1)
          --eth-peer=N,MAC        destination MAC for mac mode on port N (default 02:00:00:00:00:0N)
          --stats-period=S        print port statistics every S seconds (non-interactive)
          --stats-json=FILE       with --stats-period: one JSON object per line per period, and a final one
          --total-num-mbufs=N     mbufs in the pool (default 16384)
          --max-pkt-len=N         largest frame in bytes, >= 64: sets each port's MTU to N - 18 (default: MTU 1500)
          --hotplug-allow=ID,...  Pmd's own: bind and attach PCI devices with these vendor:device ids when they
                                  appear (e.g. 8086:10d3, QEMU's failover primary); without it nothing is bound
          --duration=S            Pmd's own: forward S seconds, then stop, print and exit (for scripts)
          --capture=FILE          Pmd's own: capture every port, RX and TX, into a pcapng file until exit
                                  (as dpdk-dumpcap; interactively: 'capture start', 'capture stop')
          --capture-snaplen=N     with --capture: bytes kept of each packet (default 262144)
          --capture-count=N       with --capture: stop capturing after N packets (default: no limit)
          -h, --help              this text

        Exit codes: 0 ok, 1 runtime failure (e.g. no vhost-user backend on the socket), 2 usage error.
        """;
}
