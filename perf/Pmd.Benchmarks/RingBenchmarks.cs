using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Pmd.TestSupport.Virtio;
using Pmd.VirtioNet.Rings;

namespace Pmd.Benchmarks;

/// <summary>
/// One buffer through a ring and back: the driver adds it, the in-process device model takes it
/// and returns it, the driver reads it back. Per operation = one buffer, in bursts of 32.
/// </summary>
[MemoryDiagnoser]
public unsafe class RingBenchmarks
{
    private const int Burst = 32;
    private const int Size = 256;
    private nint _memory;
    private SplitRing _split;
    private SplitRingDevice _splitDevice = null!;
    private PackedRing _packed;
    private PackedRingDevice _packedDevice = null!;
    private nint _memory2;

    [GlobalSetup]
    public void Setup()
    {
        _memory = Alloc(SplitRingDevice.BytesFor(Size));
        _split = new SplitRing((byte*)_memory, Size, new RingFeatures(false, false, false));
        _splitDevice = new SplitRingDevice(_memory, Size);
        _memory2 = Alloc(PackedRingDevice.BytesFor(Size));
        _packed = new PackedRing((byte*)_memory2, Size, new RingFeatures(false, false, false));
        _packedDevice = new PackedRingDevice(_memory2, Size);
    }

    private static nint Alloc(int bytes)
    {
        var p = (nint)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        NativeMemory.Clear((void*)p, (nuint)bytes);
        return p;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree((void*)_memory);
        NativeMemory.AlignedFree((void*)_memory2);
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
