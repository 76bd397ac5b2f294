using System.Runtime.InteropServices;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.Net;

namespace Pmd.Failover;

/// <summary>
/// What the failover port does in software for a primary that lacks an offload the app was
/// configured with: checksums (TX: computed before the burst; RX: verified after it) and TSO
/// (the frame cut into segments from the port's pool). The app asked the failover port once and
/// keeps the same contract whichever device is under it. One instance per port; the TX scratch
/// and counters are per queue, so datapath threads share nothing.
/// </summary>
internal sealed class SoftwareOffloads
{
    /// <summary>Segments one TSO frame may become here (a 64 KiB frame at an MSS of 536 is 123).</summary>
    public const int MaxSegments = 128;

    [StructLayout(LayoutKind.Sequential, Size = 64)]
    public struct QueueCounters
    {
        public ulong Checksummed, Segmented, Segments, Dropped;
    }

    private readonly Mbuf[][] _segments;
    private readonly QueueCounters[] _counters;
    private readonly Mempool _pool;

    public SoftwareOffloads(int txQueues, Mempool pool)
    {
        _segments = new Mbuf[txQueues][];
        for (int q = 0; q < txQueues; q++) _segments[q] = new Mbuf[MaxSegments];
        _counters = new QueueCounters[txQueues];
        _pool = pool;
    }

    /// <summary>The TX offloads of <paramref name="config"/> that <paramref name="port"/> cannot do.</summary>
    public static TxOffloads TxGap(PortConfig config, EthPort port) =>
        config.TxOffloads & ~port.Info.TxOffloadCapabilities & (TxOffloads.Checksum | TxOffloads.Ipv4Checksum | TxOffloads.TcpTso);

    /// <summary>The RX checksum offloads of <paramref name="config"/> that <paramref name="port"/> cannot do.</summary>
    public static RxOffloads RxGap(PortConfig config, EthPort port) =>
        config.RxOffloads & ~port.Info.RxOffloadCapabilities & (RxOffloads.Checksum | RxOffloads.Ipv4Checksum);

    public QueueCounters Totals()
    {
        var t = default(QueueCounters);
        foreach (var c in _counters)
        {
            t.Checksummed += c.Checksummed;
            t.Segmented += c.Segmented;
            t.Segments += c.Segments;
            t.Dropped += c.Dropped;
        }
        return t;
    }

    /// <summary>
    /// Sends <paramref name="mbufs"/> on <paramref name="target"/>, which lacks <paramref name="gap"/>,
    /// doing that part first; returns how many of the caller's packets were taken. A segmented
    /// frame counts as taken once cut: segments the target does not accept are dropped and counted.
    /// </summary>
    public int TxBurst(EthPort target, int queue, Span<Mbuf> mbufs, TxOffloads gap)
    {
        ref var counters = ref _counters[queue];
        bool softwareTso = (gap & TxOffloads.TcpTso) != 0;
        var checksumFlags = ChecksumFlagsFor(gap);
        int start = 0; // first packet not handed to the target yet
        for (int i = 0; i < mbufs.Length; i++)
        {
            var m = mbufs[i];
            var flags = m.Flags;
            if (softwareTso && (flags & OffloadFlags.TxTcpSegmentation) != 0)
            {
                // What came before goes first, in order; a target that is full stops the burst here.
                int sent = start + target.TxBurst(queue, mbufs[start..i]);
                if (sent < i) return sent;
                SendSegments(target, queue, m, ref counters);
                start = i + 1;
                continue;
            }
            if ((flags & checksumFlags) != 0)
            {
                if (Checksums.CompleteTx(m)) counters.Checksummed++;
            }
        }
        return start + target.TxBurst(queue, mbufs[start..]);
    }

    private void SendSegments(EthPort target, int queue, Mbuf m, ref QueueCounters counters)
    {
        var scratch = _segments[queue].AsSpan();
        int n = TcpSegmentation.Segment(m, _pool, scratch);
        m.Free();
        if (n < 0)
        {
            counters.Dropped++;
            return;
        }
        counters.Segmented++;
        int sent = target.TxBurst(queue, scratch[..n]);
        counters.Segments += (ulong)sent;
        if (sent < n)
        {
            counters.Dropped += (ulong)(n - sent);
            Mbuf.Free(scratch[sent..n]);
        }
        scratch[..n].Clear();
    }

    /// <summary>The TX flags whose work is in <paramref name="gap"/> (TSO aside).</summary>
    private static OffloadFlags ChecksumFlagsFor(TxOffloads gap) =>
        ((gap & TxOffloads.Ipv4Checksum) != 0 ? OffloadFlags.TxIpChecksum : 0)
        | ((gap & (TxOffloads.TcpChecksum | TxOffloads.UdpChecksum)) != 0 ? OffloadFlags.TxL4Mask : 0);

    /// <summary>Sets the checksum verdicts on frames from a device that gives none.</summary>
    public static void VerifyRx(Span<Mbuf> mbufs)
    {
        foreach (var m in mbufs) Checksums.VerifyRx(m);
    }
}
