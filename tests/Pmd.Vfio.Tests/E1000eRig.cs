using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport.E1000e;
using Pmd.Vfio.Nics.E1000e;

namespace Pmd.Vfio.Tests;

/// <summary>One e1000e RX and TX queue over rings in a DMA arena, with the device model on the other side.</summary>
internal sealed unsafe class E1000eRig : IDisposable
{
    public static readonly MacAddress Host = MacAddress.Parse("02:00:00:00:00:01"), Guest = MacAddress.Parse("52:54:00:12:34:56");

    private readonly DmaArena _arena;

    public E1000eRig(int size = 64, int dataRoom = 2048, int poolSize = 1024, int maxFrame = 1518 + 4, bool hugePages = true, bool rxChecksums = false, bool rss = false)
    {
        Pool = Mempool.Create($"e1000e-tests-{Guid.NewGuid():N}"[..24], poolSize, cacheSize: 0, bufferSize: dataRoom + Mempool.DefaultHeadroom, allowHugePages: hugePages);
        _arena = new DmaArena("e1000e-tests-rings", (nuint)(2 * size * 16 + 3 * 4096));
        var rxRing = (E1000eRxDescriptor*)_arena.Take(size * sizeof(E1000eRxDescriptor));
        var txRing = (E1000eTxDescriptor*)_arena.Take(size * sizeof(E1000eTxDescriptor));
        var (bufferSize, _) = E1000eRxBufferSize.For(dataRoom);
        Device.AttachRx(rxRing, size, bufferSize);
        Device.AttachTx(txRing, size);
        Rx = new E1000eRxQueue(rxRing, size, Pool, Device.Registers, E1000eDeviceModel.Rdt, bufferSize, maxFrame, portId: 3, checksums: rxChecksums, rss: rss);
        Tx = new E1000eTxQueue(txRing, size, Device.Registers, E1000eDeviceModel.Tdt, E1000eController.MaxFrame);
        Rx.Refill();
    }

    public E1000eDeviceModel Device { get; } = new();
    public Mempool Pool { get; }
    public E1000eRxQueue Rx { get; }
    public E1000eTxQueue Tx { get; }

    public void Dispose()
    {
        Rx.Drain();
        Tx.Drain();
        int inUse = Pool.InUse;
        _arena.Dispose();
        Device.Dispose();
        Pool.Dispose();
        Assert.Equal(0, inUse);
    }
}
