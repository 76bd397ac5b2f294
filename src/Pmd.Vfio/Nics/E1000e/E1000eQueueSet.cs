using Pmd.Memory;
using static Pmd.Vfio.Nics.E1000e.E1000eRegisters;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// A port's RX and TX queues (one or two of each) as one start brings them up: rings in one DMA
/// arena, their registers, the receive format and RSS, the transmitter and receiver enabled, and
/// every RX ring filled. Every ring is filled, not only those expected to receive: QEMU's e1000e
/// stops taking frames for all queues while one ring has no free descriptor.
/// </summary>
internal sealed unsafe class E1000eQueueSet
{
    private E1000eQueueSet(E1000eRxQueue[] rx, E1000eTxQueue[] tx)
    {
        Rx = rx;
        Tx = tx;
    }

    public E1000eRxQueue[] Rx { get; }

    public E1000eTxQueue[] Tx { get; }

    /// <summary>What one start needs of its parameters, in one place.</summary>
    internal readonly record struct Layout(int RxQueues, int TxQueues, int RxSize, int TxSize, int BufferSize, uint BufferBits, int MaxFrame, ushort PortId, uint RxChecksums);

    /// <summary>The bytes of arena the rings of <paramref name="layout"/> take, with room to align each to a page.</summary>
    public static nuint ArenaBytes(in Layout layout) =>
        (nuint)((layout.RxQueues * layout.RxSize + layout.TxQueues * layout.TxSize) * 16 + (layout.RxQueues + layout.TxQueues + 1) * 4096);

    /// <summary>
    /// Programs the device (after a reset) and returns the queues. On an exception, mbufs already
    /// lent are back in the pool; the caller resets the device and frees the arena.
    /// </summary>
    public static E1000eQueueSet Start(E1000eController mac, DmaArena arena, Mempool pool, in Layout layout, bool jumbo, bool promiscuous, bool allMulticast)
    {
        if (layout.RxQueues is < 1 or > MaxQueues || layout.TxQueues is < 1 or > MaxQueues)
            throw new ArgumentOutOfRangeException(nameof(layout), $"the e1000e has 1 or 2 queues each way; {layout.RxQueues} RX and {layout.TxQueues} TX asked");
        var rx = new E1000eRxQueue[layout.RxQueues];
        var tx = new E1000eTxQueue[layout.TxQueues];
        bool rss = layout.RxQueues > 1;
        for (int q = 0; q < rx.Length; q++)
        {
            var ring = (E1000eRxDescriptor*)arena.Take(layout.RxSize * sizeof(E1000eRxDescriptor));
            mac.SetupRxRing(q, arena.IovaOf(ring), layout.RxSize);
            rx[q] = new E1000eRxQueue(ring, layout.RxSize, pool, mac.Registers, OfQueue(Rdt, q), layout.BufferSize, layout.MaxFrame, layout.PortId,
                checksums: layout.RxChecksums != 0, rss: rss);
        }
        mac.ConfigureRx(layout.RxChecksums, layout.RxQueues);
        for (int q = 0; q < tx.Length; q++)
        {
            var ring = (E1000eTxDescriptor*)arena.Take(layout.TxSize * sizeof(E1000eTxDescriptor));
            mac.SetupTxRing(q, arena.IovaOf(ring), layout.TxSize);
            // Each queue its own: the device keeps one offload context per queue, and so does each E1000eTxQueue.
            tx[q] = new E1000eTxQueue(ring, layout.TxSize, mac.Registers, OfQueue(Tdt, q), E1000eController.MaxFrame);
        }
        mac.EnableTx();
        mac.EnableRx(layout.BufferBits, jumbo, promiscuous, allMulticast);
        try
        {
            foreach (var q in rx) q.Refill();
        }
        catch
        {
            foreach (var q in rx) q.Drain();
            throw;
        }
        return new E1000eQueueSet(rx, tx);
    }
}
