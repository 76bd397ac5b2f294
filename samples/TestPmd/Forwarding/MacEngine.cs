using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>mac: rewrites the Ethernet source to the TX port's MAC and the destination to its peer, then forwards.</summary>
internal sealed class MacEngine : ForwardEngine
{
    public override ForwardMode Mode => ForwardMode.Mac;

    public override void ForwardBurst(ForwardStream stream, Span<Mbuf> burst)
    {
        int n = Receive(stream, burst);
        if (n == 0) return;
        var destination = stream.TxPeerMac;
        var source = stream.TxSourceMac;
        for (int i = 0; i < n; i++)
        {
            var frame = burst[i].Data;
            if (frame.Length < 12) continue; // a runt head segment: forward it as it is
            destination.CopyTo(frame);
            source.CopyTo(frame[6..]);
        }
        Transmit(stream, burst[..n]);
    }
}
