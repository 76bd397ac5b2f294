using Pmd.Ethdev;
using Pmd.TestPmd.Forwarding;

namespace Pmd.TestPmd.Options;

/// <summary>The application side of the command line (after "--"), with testpmd's names and defaults.</summary>
internal sealed class AppOptions
{
    public const int MaxBurst = 512;
    public const int MinTxPacketLength = UdpFrameTemplate.HeadersLength;

    /// <summary>
    /// What --max-pkt-len counts beyond the MTU: the Ethernet header and the CRC, DPDK's overhead
    /// for a driver that does not report its largest frame (Pmd's PortInfo reports only MTUs).
    /// </summary>
    public const int FrameOverhead = 14 + 4;

    /// <summary>The smallest Ethernet frame, which --max-pkt-len may not go below (as in DPDK).</summary>
    public const int MinMaxPacketLength = 64;

    public ForwardMode Mode { get; private set; } = ForwardMode.Io;
    public int TxPacketLength { get; private set; } = 64;
    /// <summary>--txpkts=A,B,...: the segment lengths of a txonly frame (null: one segment of TxPacketLength).</summary>
    public int[]? TxSegments { get; private set; }
    /// <summary>--tx-offloads=0xN (DPDK's RTE_ETH_TX_OFFLOAD_* bits): every port's TX offloads, and csum's hw settings.</summary>
    public TxOffloads TxOffloads { get; private set; }
    /// <summary>--cmdline-file: interactive commands run once the ports are set up, before forwarding starts.</summary>
    public string? CommandFile { get; private set; }
    /// <summary>--enable-rx-cksum, --enable-lro: the RX offloads every port is configured with.</summary>
    public RxOffloads RxOffloads { get; private set; }
    public int Burst { get; private set; } = 32;
    public int RxQueues { get; private set; } = 1;
    public int TxQueues { get; private set; } = 1;
    /// <summary>0 lets the driver choose its default ring size.</summary>
    public int RxDescriptors { get; private set; }
    public int TxDescriptors { get; private set; }
    /// <summary>How many of the forwarding lcores to use; testpmd's default is 1.</summary>
    public int ForwardingCores { get; private set; } = 1;
    public double? StatsPeriodSeconds { get; private set; }
    public bool Interactive { get; private set; }
    public bool AutoStart { get; private set; }
    public bool TxFirst { get; private set; }

    /// <summary>--record-core-cycles: time the bursts that moved packets, for a CPU cost per packet.</summary>
    public bool RecordCoreCycles { get; private set; }
    public string? StatsJsonPath { get; private set; }
    /// <summary>Pmd's own --duration: forward this long, then stop and print (for scripts).</summary>
    public double? DurationSeconds { get; private set; }
    public int TotalMbufs { get; private set; } = 16384;
    /// <summary>--max-pkt-len: the largest frame a port must take; null leaves each port's MTU as it is (1500).</summary>
    public int? MaxPacketLength { get; private set; }
    /// <summary>The MTU --max-pkt-len asks every port for, or null.</summary>
    public int? Mtu => MaxPacketLength - FrameOverhead;
    /// <summary>--hotplug-allow: PCI ids Pmd may bind to vfio-pci and attach when such a device appears (none: never).</summary>
    public List<Pmd.Vfio.PciId> HotplugAllow { get; } = [];
    /// <summary>--capture: a pcapng file to capture every port into, RX and TX, from start to exit.</summary>
    public string? CapturePath { get; private set; }
    /// <summary>--capture-snaplen: the bytes kept of each captured packet.</summary>
    public int CaptureSnapLength { get; private set; } = Pmd.Capture.CaptureOptions.MaxSnapLength;
    /// <summary>--capture-count: stop capturing after this many packets (0: no limit).</summary>
    public long CaptureCount { get; private set; }
    /// <summary>--eth-peer: the destination MAC the mac engine writes, per TX port.</summary>
    public Dictionary<int, MacAddress> EthPeers { get; } = [];

    /// <summary>Largest frame --txpkts may add up to, and one segment's largest length (a 2 KiB mbuf's data room).</summary>
    public const int MaxTxPacketLength = 65535, MaxTxSegmentLength = 2048, MaxTxSegments = 64;

    /// <summary>--txpkts=N or --txpkts=A,B,...: DPDK's list of segment lengths, the first holding the headers.</summary>
    private void ParseTxSegments(string flag, string value)
    {
        var parts = value.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > MaxTxSegments) throw new UsageException($"{flag}: {parts.Length} segments, at most {MaxTxSegments}");
        var lengths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], out lengths[i]) || lengths[i] < (i == 0 ? MinTxPacketLength : 1) || lengths[i] > MaxTxSegmentLength)
                throw new UsageException($"{flag}: segment {i} length '{parts[i]}' must be {(i == 0 ? MinTxPacketLength : 1)}..{MaxTxSegmentLength}");
        }
        int total = lengths.Sum();
        if (total > MaxTxPacketLength) throw new UsageException($"{flag}: {total} bytes in all, at most {MaxTxPacketLength}");
        TxPacketLength = total;
        TxSegments = lengths.Length > 1 ? lengths : null;
    }

    public static AppOptions Parse(IReadOnlyList<string> args)
    {
        var o = new AppOptions();
        var r = new ArgReader(args);
        while (r.HasMore)
        {
            string flag = r.NextFlag();
            switch (flag)
            {
                case "--forward-mode":
                    string mode = r.Value(flag);
                    if (!ForwardModes.TryParse(mode, out var m))
                        throw new UsageException($"invalid forward mode '{mode}' (expected one of: {ForwardModes.Names})");
                    o.Mode = m;
                    break;
                case "--txpkts": o.ParseTxSegments(flag, r.Value(flag)); break;
                case "--tx-offloads":
                    string bits = r.Value(flag);
                    if (!ulong.TryParse(bits.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? bits[2..] : bits, System.Globalization.NumberStyles.HexNumber, null, out ulong mask))
                        throw new UsageException($"{flag}: '{bits}' is not a hexadecimal mask");
                    o.TxOffloads = TxOffloadBits.ToOffloads(mask);
                    break;
                case "--cmdline-file":
                    o.CommandFile = r.Value(flag);
                    if (!File.Exists(o.CommandFile)) throw new UsageException($"{flag}: no file '{o.CommandFile}'");
                    break;
                case "--enable-rx-cksum": r.RejectValue(flag); o.RxOffloads |= RxOffloads.Checksum; break;
                case "--enable-lro": r.RejectValue(flag); o.RxOffloads |= RxOffloads.TcpLro; break;
                case "--burst": o.Burst = r.IntValue(flag, 1, MaxBurst); break;
                case "--rxq": o.RxQueues = r.IntValue(flag, 1, 1024); break;
                case "--txq": o.TxQueues = r.IntValue(flag, 1, 1024); break;
                case "--rxd": o.RxDescriptors = r.IntValue(flag, 0, 32768); break;
                case "--txd": o.TxDescriptors = r.IntValue(flag, 0, 32768); break;
                case "--nb-cores": o.ForwardingCores = r.IntValue(flag, 1, 1024); break;
                case "--total-num-mbufs": o.TotalMbufs = r.IntValue(flag, 1024, 1 << 22); break;
                case "--max-pkt-len": o.MaxPacketLength = r.IntValue(flag, MinMaxPacketLength, ushort.MaxValue); break;
                case "--stats-period": o.StatsPeriodSeconds = r.SecondsValue(flag); break;
                case "--duration": o.DurationSeconds = r.SecondsValue(flag); break;
                case "--hotplug-allow":
                    foreach (string id in r.Value(flag).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        try { o.HotplugAllow.Add(Pmd.Vfio.PciHotplug.ParseId(id)); }
                        catch (FormatException e) { throw new UsageException($"{flag}: {e.Message}"); }
                    }
                    break;
                case "--stats-json":
                    o.StatsJsonPath = r.Value(flag);
                    if (o.StatsJsonPath.Length == 0) throw new UsageException("option --stats-json requires a file name");
                    break;
                case "--eth-peer": o.AddEthPeer(r.Value(flag)); break;
                case "--capture":
                    o.CapturePath = r.Value(flag);
                    if (o.CapturePath.Length == 0) throw new UsageException("option --capture requires a file name");
                    break;
                case "--capture-snaplen": o.CaptureSnapLength = r.IntValue(flag, 1, Pmd.Capture.CaptureOptions.MaxSnapLength); break;
                case "--capture-count": o.CaptureCount = r.IntValue(flag, 0, int.MaxValue); break;
                case "-i" or "--interactive": r.RejectValue(flag); o.Interactive = true; break;
                case "-a" or "--auto-start": r.RejectValue(flag); o.AutoStart = true; break;
                case "--tx-first": r.RejectValue(flag); o.TxFirst = true; break;
                case "--record-core-cycles": r.RejectValue(flag); o.RecordCoreCycles = true; break;
                // Accepted for DPDK command lines; Pmd has no equivalent to switch.
                case "--disable-link-check" or "--no-lsc-interrupt" or "--no-rmv-interrupt" or "--no-flush-rx":
                    r.RejectValue(flag);
                    break;
                case "-h" or "--help":
                    throw new HelpRequested();
                default:
                    throw new UsageException(flag.StartsWith('-')
                        ? $"unknown option '{flag}' (see --help)"
                        : $"unexpected argument '{flag}' (see --help)");
            }
        }
        if (o.StatsJsonPath is not null && o.StatsPeriodSeconds is null)
            throw new UsageException("--stats-json needs --stats-period (one line is written per period)");
        if (o.CapturePath is null && (o.CaptureCount != 0 || o.CaptureSnapLength != Pmd.Capture.CaptureOptions.MaxSnapLength))
            throw new UsageException("--capture-snaplen and --capture-count need --capture=FILE");
        if (o.Interactive && o.DurationSeconds is not null)
            throw new UsageException("--duration is for non-interactive runs; it cannot be used with -i");
        return o;
    }

    private void AddEthPeer(string value)
    {
        int comma = value.IndexOf(',');
        if (comma < 0 || !int.TryParse(value.AsSpan(0, comma), out int port) || port < 0 || port >= PortRegistry.MaxPorts
            || !MacAddress.TryParse(value.AsSpan(comma + 1), out var mac))
            throw new UsageException($"invalid --eth-peer '{value}': expected PORT,XX:XX:XX:XX:XX:XX");
        EthPeers[port] = mac;
    }
}
