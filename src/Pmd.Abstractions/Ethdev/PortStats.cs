namespace Pmd.Ethdev;

/// <summary>Basic port counters, like rte_eth_stats.</summary>
public struct PortStats
{
    public ulong RxPackets;
    public ulong TxPackets;
    public ulong RxBytes;
    public ulong TxBytes;
    /// <summary>Packets the device dropped because no RX descriptor was free.</summary>
    public ulong RxMissed;
    public ulong RxErrors;
    public ulong TxErrors;
    /// <summary>RX refills that failed for lack of mbufs.</summary>
    public ulong RxNoMbuf;

    public static PortStats operator +(PortStats a, PortStats b) => new()
    {
        RxPackets = a.RxPackets + b.RxPackets,
        TxPackets = a.TxPackets + b.TxPackets,
        RxBytes = a.RxBytes + b.RxBytes,
        TxBytes = a.TxBytes + b.TxBytes,
        RxMissed = a.RxMissed + b.RxMissed,
        RxErrors = a.RxErrors + b.RxErrors,
        TxErrors = a.TxErrors + b.TxErrors,
        RxNoMbuf = a.RxNoMbuf + b.RxNoMbuf,
    };
}

/// <summary>A named extended counter.</summary>
public readonly record struct Xstat(string Name, ulong Value);
