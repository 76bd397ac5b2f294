using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>io: forwards packets untouched, the baseline for raw ring throughput.</summary>
internal sealed class IoEngine : ForwardEngine
{
    public override ForwardMode Mode => ForwardMode.Io;

    public override void ForwardBurst(ForwardStream stream, Span<Mbuf> burst)
    {
        int n = Receive(stream, burst);
        if (n > 0) Transmit(stream, burst[..n]);
    }
}
