using BenchmarkDotNet.Attributes;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport.E1000e;
using Pmd.Vfio.Nics.E1000e;

namespace Pmd.Benchmarks;

/// <summary>
/// The e1000e RX and TX burst paths on legacy descriptor rings, with the in-process descriptor
/// model as the device: refill, tail writes and DD cleanup included. The model's own work (a
/// 64-byte copy per received frame, a walk of each sent descriptor) is in the numbers too.
/// Per operation = one packet.
/// </summary>
[MemoryDiagnoser]
public unsafe class E1000eBurstBenchmarks
{
    private const int Burst = 32;
    private const int Size = 256;
    private Mempool _pool = null!;
    private DmaArena _arena = null!;
    private E1000eDeviceModel _device = null!;
    private E1000eRxQueue _rx = null!;
    private E1000eTxQueue _tx = null!;
    private readonly byte[] _frame = new byte[64];
    private readonly Mbuf[] _burst = new Mbuf[Burst];

    [GlobalSetup]
    public void Setup()
    {
        _pool = Mempool.Create("bench-e1000e", 4096);
        _arena = new DmaArena("bench-e1000e-rings", 2 * Size * 16 + 3 * 4096);
        _device = new E1000eDeviceModel();
        var rxRing = (E1000eRxDescriptor*)_arena.Take(Size * sizeof(E1000eRxDescriptor));
        var txRing = (E1000eTxDescriptor*)_arena.Take(Size * sizeof(E1000eTxDescriptor));
        _device.AttachRx(rxRing, Size, 2048);
        _device.AttachTx(txRing, Size);
        _rx = new E1000eRxQueue(rxRing, Size, _pool, _device.Registers, E1000eDeviceModel.Rdt, 2048, 1522, portId: 0);
        _tx = new E1000eTxQueue(txRing, Size, _device.Registers, E1000eDeviceModel.Tdt, E1000eController.MaxFrame);
        MacAddress.Broadcast.CopyTo(_frame);
        _rx.Refill();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _rx.Drain();
        _tx.Drain();
        _arena.Dispose();
        _device.Dispose();
        _pool.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public int RxBurst()
    {
        for (int i = 0; i < Burst && _device.Receive(_frame); i++) { }
        int n = _rx.Burst(_burst);
        Mbuf.Free(_burst.AsSpan(0, n));
        return n;
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public int TxBurst()
    {
        int got = _pool.Alloc(_burst);
        for (int i = 0; i < got; i++) _burst[i].Append(64);
        int sent = _tx.Burst(_burst.AsSpan(0, got));
        Mbuf.Free(_burst.AsSpan(sent, got - sent));
        _device.Transmit();
        return sent;
    }
}
