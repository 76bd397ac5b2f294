using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>rxonly: receives and frees, measuring what the port can take in.</summary>
internal sealed class RxOnlyEngine : ForwardEngine
{
    public override ForwardMode Mode => ForwardMode.RxOnly;

    public override void ForwardBurst(ForwardStream stream, Span<Mbuf> burst)
    {
        int n = Receive(stream, burst);
        if (n > 0) Mbuf.Free(burst[..n]);
    }
}
