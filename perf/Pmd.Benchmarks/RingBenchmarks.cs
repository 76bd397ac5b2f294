using BenchmarkDotNet.Attributes;
using Pmd.TestSupport.Virtio;
using Pmd.VirtioNet.Rings;

namespace Pmd.Benchmarks;

/// <summary>
/// One buffer through a ring and back: the driver adds it, the in-process device model takes it
/// and returns it, the driver reads it back. Per operation = one buffer, in bursts of 32.
/// </summary>
[MemoryDiagnoser]
public class RingBenchmarks
{
    private const int Burst = 32;
    private const int Size = 256;
    private RingMemory _splitMemory = null!;
    private SplitRing _split;
    private SplitRingDevice _splitDevice = null!;
    private RingMemory _packedMemory = null!;
    private PackedRing _packed;
    private PackedRingDevice _packedDevice = null!;

    [GlobalSetup]
    public void Setup()
    {
        _splitMemory = RingMemory.For(Size, packed: false);
        (_split, _splitDevice) = _splitMemory.Split(new RingFeatures(false, false, false));
        _packedMemory = RingMemory.For(Size, packed: true);
        (_packed, _packedDevice) = _packedMemory.Packed(new RingFeatures(false, false, false));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _splitMemory.Dispose();
        _packedMemory.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public nint SplitEnqueueDequeue()
    {
        for (int i = 0; i < Burst; i++) _split.AddBuffer(0x1000, 2048, true, i + 1);
        _split.Publish();
        _split.NeedsNotify();
        while (_splitDevice.TryPop(out var chain)) _splitDevice.PushUsed(chain.Id, 64, publish: false);
        _splitDevice.Publish();
        nint sum = 0;
        while (_split.TryGetUsed(out nint cookie, out _) == UsedStatus.Ok) sum += cookie;
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public nint PackedEnqueueDequeue()
    {
        for (int i = 0; i < Burst; i++) _packed.AddBuffer(0x1000, 2048, true, i + 1);
        _packed.NeedsNotify();
        while (_packedDevice.TryPop(out var chain)) _packedDevice.PushUsed(chain.Id, 64);
        nint sum = 0;
        while (_packed.TryGetUsed(out nint cookie, out _) == UsedStatus.Ok) sum += cookie;
        return sum;
    }
}
