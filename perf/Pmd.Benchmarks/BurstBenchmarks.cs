using BenchmarkDotNet.Attributes;
using Pmd.Memory;
using Pmd.TestSupport.Virtio;
using Pmd.VirtioNet.Net;
using Pmd.VirtioNet.Rings;

namespace Pmd.Benchmarks;

/// <summary>
/// The virtio-net RX and TX burst paths on split rings, with the in-process device model
/// returning buffers: header handling, refill and cleanup included. Per operation = one packet.
/// </summary>
[MemoryDiagnoser]
public unsafe class BurstBenchmarks
{
    private const int Burst = 32;
    private const int Size = 256;
    private Mempool _pool = null!;
    private RingMemory _rxRingMemory = null!;
    private RingMemory _txRingMemory = null!;
    private VirtioRxQueue _rx = null!;
    private VirtioTxQueue _tx = null!;
    private SplitRingDevice _rxDevice = null!;
    private SplitRingDevice _txDevice = null!;
    private readonly Mbuf[] _burst = new Mbuf[Burst];

    [GlobalSetup]
    public void Setup()
    {
        _pool = Mempool.Create("bench-burst", 4096);
        _rxRingMemory = RingMemory.For(Size, packed: false);
        _txRingMemory = RingMemory.For(Size, packed: false);
        var features = new RingFeatures(false, false, false);
        var transport = new NullTransport();
        (var rxRing, _rxDevice) = _rxRingMemory.Split(features);
        (var txRing, _txDevice) = _txRingMemory.Split(features);
        _rx = new VirtioRxQueue<SplitRing>(rxRing, _pool, transport, 0, 0, mergeable: true, guestCsum: false);
        _tx = new VirtioTxQueue<SplitRing>(txRing, transport, 1, default(VirtioTxOffloads), indirect: false);
        _rx.Refill();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _rx.Drain();
        _tx.Drain();
        _rxRingMemory.Dispose();
        _txRingMemory.Dispose();
        _pool.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public int RxBurst()
    {
        // The device "receives" 32 frames of 64 bytes: a header with num_buffers = 1, then the frame.
        for (int i = 0; i < Burst && _rxDevice.TryPop(out var chain); i++)
        {
            var header = (VirtioNetHeader*)chain[0].Address;
            *header = default;
            header->NumBuffers = 1;
            _rxDevice.PushUsed(chain.Id, VirtioNetHeader.Size + 64, publish: false);
        }
        _rxDevice.Publish();
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
        while (_txDevice.TryPop(out var chain)) _txDevice.PushUsed(chain.Id, 0, publish: false);
        _txDevice.Publish();
        return sent;
    }
}
