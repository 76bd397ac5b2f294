using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>txonly: sends a burst of template UDP frames per turn and never receives (as testpmd's).</summary>
internal sealed class TxOnlyEngine : ForwardEngine
{
    public override ForwardMode Mode => ForwardMode.TxOnly;

    public override bool Generates => true;

    public override void ForwardBurst(ForwardStream stream, Span<Mbuf> burst) => SendTemplateBurst(stream, burst);

    /// <summary>
    /// Fills as many mbufs as the pool gives and sends them (also tx_first's burst). As DPDK's
    /// txonly does, only the Ethernet, IPv4 and UDP headers are written: the payload is whatever the
    /// buffer holds, so the cost measured is the driver's, not a per-byte copy.
    /// </summary>
    public static void SendTemplateBurst(ForwardStream stream, Span<Mbuf> burst)
    {
        if (stream.TxSegments is { Length: > 1 } segments)
        {
            SendSegmentedBurst(stream, burst, segments);
            return;
        }
        var template = stream.Template!.Frame;
        var headers = template[..Math.Min(template.Length, UdpFrameTemplate.HeadersLength)];
        int n = stream.Pool!.Alloc(burst);
        for (int i = 0; i < n; i++) headers.CopyTo(burst[i].Append(template.Length));
        if (n > 0) Transmit(stream, burst[..n]);
    }

    /// <summary>
    /// --txpkts=A,B,...: each frame is a chain of segments of those lengths (DPDK's txonly with a
    /// segment list), the headers in the first. A frame the pool cannot complete is not sent.
    /// </summary>
    private static void SendSegmentedBurst(ForwardStream stream, Span<Mbuf> burst, int[] segments)
    {
        var template = stream.Template!.Frame;
        var pool = stream.Pool!;
        int n = 0;
        for (; n < burst.Length; n++)
        {
            var head = pool.Alloc();
            if (head.IsNull) break;
            template[..Math.Min(segments[0], UdpFrameTemplate.HeadersLength)].CopyTo(head.Append(segments[0]));
            bool complete = true;
            for (int s = 1; s < segments.Length; s++)
            {
                var seg = pool.Alloc();
                if (seg.IsNull) { complete = false; break; }
                seg.Append(segments[s]);
                head.Chain(seg);
            }
            if (!complete)
            {
                head.Free();
                break;
            }
            burst[n] = head;
        }
        if (n > 0) Transmit(stream, burst[..n]);
    }
}
