using System.Runtime.CompilerServices;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Capture;

/// <summary>
/// What a capture puts on one port (DPDK's pdump RX/TX callbacks): the rings of its captured
/// queues, indexed by queue, null where a queue or direction is not captured.
/// </summary>
internal sealed class PortTap(EthPort port, int interfaceId, CaptureRing?[] rx, CaptureRing?[] tx)
{
    public EthPort Port { get; } = port;

    /// <summary>The port's Interface Description Block in the file.</summary>
    public int InterfaceId { get; } = interfaceId;

    public IEnumerable<CaptureRing> Rings => rx.Concat(tx).OfType<CaptureRing>();

    /// <summary>After the driver's RX burst returned <paramref name="mbufs"/> (at least one).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Received(int queue, ReadOnlySpan<Mbuf> mbufs)
    {
        if ((uint)queue < (uint)rx.Length && rx[queue] is { } ring) ring.Received(mbufs);
    }

    /// <summary>The ring of TX queue <paramref name="queue"/>, or null when it is not captured.</summary>
    public CaptureRing? TxRing(int queue) => (uint)queue < (uint)tx.Length ? tx[queue] : null;
}
