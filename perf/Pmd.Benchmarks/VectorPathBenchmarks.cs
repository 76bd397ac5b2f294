using BenchmarkDotNet.Attributes;
using Pmd.TestSupport.Virtio;
using Pmd.VirtioNet.Rings;

namespace Pmd.Benchmarks;

/// <summary>
/// The rings' scalar and vectorized paths side by side (<see cref="RingFeatures.Vectorized"/>), with
/// IN_ORDER as virtio-user negotiates it: a batch of 32 single-buffer chains lent with AddBuffers,
/// returned by the in-process device model, and taken back. TX: the device returns the batch with
/// one used entry naming its last chain, as DPDK's vhost does in order. RX: one entry per buffer,
/// each with its length. Per operation = one buffer.
/// </summary>
[MemoryDiagnoser]
public class VectorPathBenchmarks
{
    private const int Burst = 32;
    private const int Size = 256;
    private readonly VirtqBuffer[] _buffers = new VirtqBuffer[Burst];
    private readonly nint[] _cookies = new nint[Burst];
    private readonly nint[] _done = new nint[Burst];
    private readonly uint[] _lengths = new uint[Burst];
    private RingMemory _memory = null!;
    private SplitRing _split;
    private SplitRingDevice _splitDevice = null!;
    private SplitRxRing _slotted;
    private SplitRingDevice _slottedDevice = null!;
    private PackedRxRing _slottedPacked;
    private PackedRingDevice _slottedPackedDevice = null!;
    private RingMemory _slottedMemory = null!;
    private PackedRing _packed;
    private PackedRingDevice _packedDevice = null!;

    [Params(false, true)]
    public bool Packed { get; set; }

    [Params(false, true)]
    public bool Vectorized { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        for (int i = 0; i < Burst; i++)
        {
            _buffers[i] = new VirtqBuffer(0x100000UL + (ulong)i * 2048, 2048);
            _cookies[i] = i + 1;
        }
        _memory = RingMemory.For(Size, Packed);
        var features = new RingFeatures(EventIndex: true, InOrder: true, IndirectDescriptors: false, Vectorized);
        if (Packed) (_packed, _packedDevice) = _memory.Packed(features);
        else (_split, _splitDevice) = _memory.Split(features);
        _slottedMemory = RingMemory.For(Size, Packed);
        if (Packed) (_slottedPacked, _slottedPackedDevice) = _slottedMemory.PackedRx(features);
        else (_slotted, _slottedDevice) = _slottedMemory.SplitRx(features);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _memory.Dispose();
        _slottedMemory.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public int TxLendAndComplete()
    {
        int n = 0;
        if (Packed)
        {
            _packed.AddBuffers(_buffers, _cookies, deviceWritable: false);
            _packed.NeedsNotify();
            ushort last = 0;
            int popped = 0;
            while (_packedDevice.TryPop(out var chain)) { last = chain.Id; popped++; }
            _packedDevice.PushUsed(last, 0, popped);
            while (n < Burst) { int got = _packed.TakeCompleted(_done.AsSpan(n)); if (got == 0) break; n += got; }
        }
        else
        {
            _split.AddBuffers(_buffers, _cookies, deviceWritable: false);
            _split.Publish();
            _split.NeedsNotify();
            ushort last = 0;
            while (_splitDevice.TryPop(out var chain)) last = chain.Id;
            _splitDevice.PushUsed(last, 0);
            while (n < Burst) { int got = _split.TakeCompleted(_done.AsSpan(n)); if (got == 0) break; n += got; }
        }
        return n;
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public int RxLendAndReceive()
    {
        if (Packed)
        {
            _packed.AddBuffers(_buffers, _cookies, deviceWritable: true);
            _packed.NeedsNotify();
            while (_packedDevice.TryPop(out var chain)) _packedDevice.PushUsed(chain.Id, 64);
            return CompletedBuffers.TakeEach(ref _packed, _done, _lengths);
        }
        _split.AddBuffers(_buffers, _cookies, deviceWritable: true);
        _split.Publish();
        _split.NeedsNotify();
        while (_splitDevice.TryPop(out var chain)) _splitDevice.PushUsed(chain.Id, 64, publish: false);
        _splitDevice.Publish();
        return CompletedBuffers.TakeEach(ref _split, _done, _lengths);
    }

    /// <summary>RX on the rings whose buffer ids are their slots (SplitRxRing, PackedRxRing), as IN_ORDER or vectorized=1 select them.</summary>
    [Benchmark(OperationsPerInvoke = Burst)]
    public int RxSlottedLendAndReceive()
    {
        if (Packed)
        {
            _slottedPacked.AddBuffers(_buffers, _cookies, deviceWritable: true);
            _slottedPacked.NeedsNotify();
            while (_slottedPackedDevice.TryPop(out var chain)) _slottedPackedDevice.PushUsed(chain.Id, 64);
            return _slottedPacked.TakeUsed(_done, _lengths);
        }
        _slotted.AddBuffers(_buffers, _cookies, deviceWritable: true);
        _slotted.Publish();
        _slotted.NeedsNotify();
        while (_slottedDevice.TryPop(out var chain)) _slottedDevice.PushUsed(chain.Id, 64, publish: false);
        _slottedDevice.Publish();
        return _slotted.TakeUsed(_done, _lengths);
    }
}
