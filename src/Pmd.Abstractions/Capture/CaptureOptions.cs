namespace Pmd.Capture;

/// <summary>Which way the packets a capture copies are going.</summary>
[Flags]
public enum CaptureDirection
{
    /// <summary>What the port received (RX bursts): pcapng's inbound.</summary>
    Rx = 1,

    /// <summary>What the port took to send (TX bursts): pcapng's outbound.</summary>
    Tx = 2,

    /// <summary>Both directions (the default).</summary>
    Both = Rx | Tx,
}

/// <summary>What <see cref="PacketCapture.Start"/> captures, and how much of it (dpdk-dumpcap's options).</summary>
public sealed class CaptureOptions
{
    /// <summary>The largest snap length: Wireshark's and dpdk-dumpcap's default, 256 KiB.</summary>
    public const int MaxSnapLength = 262144;

    /// <summary>The smallest ring a queue may have, in bytes.</summary>
    public const int MinRingSize = 4096;

    /// <summary>The ports to capture, by id (owned ports too, e.g. a failover port's primary and standby); null: every port the registry lists in <see cref="Ethdev.PortRegistry.Ports"/>.</summary>
    public IReadOnlyList<ushort>? Ports { get; init; }

    /// <summary>The queues to capture on each port; null (the default): every queue the port is configured with.</summary>
    public IReadOnlyList<int>? Queues { get; init; }

    /// <summary>RX, TX or both (the default).</summary>
    public CaptureDirection Direction { get; init; } = CaptureDirection.Both;

    /// <summary>The most bytes kept of each packet, 1 to <see cref="MaxSnapLength"/> (the default); the original length is kept as well.</summary>
    public int SnapLength { get; init; } = MaxSnapLength;

    /// <summary>Stop after this many packets are written (dpdk-dumpcap's -c); 0, the default: no limit.</summary>
    public long PacketLimit { get; init; }

    /// <summary>
    /// The bytes of the ring each captured queue and direction copies into, rounded up to a power of
    /// two, at least <see cref="MinRingSize"/>; default 4 MiB (about 50,000 64-byte packets, 2,600
    /// of 1,514). A packet the full ring cannot take is counted as dropped.
    /// </summary>
    public int RingSize { get; init; } = 4 << 20;
}
