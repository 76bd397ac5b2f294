using BenchmarkDotNet.Attributes;
using Pmd.Memory;

namespace Pmd.Benchmarks;

/// <summary>
/// Putting 32 allocated mbufs back into their pristine state, field by field and with the one
/// 32-byte store that <see cref="Mbuf"/>'s Reset uses where 256-bit vectors are accelerated (what
/// every RX refill pays per buffer). Per operation = one mbuf.
/// </summary>
[MemoryDiagnoser]
public unsafe class MbufResetBenchmarks
{
    private const int Burst = 32;
    private Mempool _pool = null!;
    private readonly Mbuf[] _mbufs = new Mbuf[Burst];

    [GlobalSetup]
    public void Setup()
    {
        _pool = Mempool.Create("bench-reset", 256);
        _pool.Alloc(_mbufs);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Mbuf.Free(_mbufs);
        _pool.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Burst)]
    public void ResetScalar()
    {
        foreach (var m in _mbufs) Mbuf.ResetScalar(m.Header);
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public void ResetVector()
    {
        foreach (var m in _mbufs) Mbuf.Reset(m.Header);
    }
}
