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
        var template = stream.Template!.Frame;
        var headers = template[..Math.Min(template.Length, UdpFrameTemplate.HeadersLength)];
        int n = stream.Pool!.Alloc(burst);
        for (int i = 0; i < n; i++) headers.CopyTo(burst[i].Append(template.Length));
        if (n > 0) Transmit(stream, burst[..n]);
    }
}
