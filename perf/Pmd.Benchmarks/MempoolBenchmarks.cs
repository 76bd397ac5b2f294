using BenchmarkDotNet.Attributes;
using Pmd.Memory;

namespace Pmd.Benchmarks;

/// <summary>
/// Bulk get and put of 32 mbufs through this thread's cache, as DPDK's mempool_perf_autotest does
/// with n_get_bulk = n_put_bulk = 32. One operation = one mbuf got and put back.
/// </summary>
[MemoryDiagnoser]
public class MempoolBenchmarks
{
    private const int Bulk = 32;
    private const int Rounds = 1024;
    private readonly Mbuf[] _burst = new Mbuf[Bulk];
    private Mempool _pool = null!;

    [Params(0, 256)]
    public int CacheSize { get; set; }

    [GlobalSetup]
    public void Setup() => _pool = Mempool.Create("bench", 8192, CacheSize);

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(OperationsPerInvoke = Bulk * Rounds)]
    public int BulkGetPut32()
    {
        int total = 0;
        for (int r = 0; r < Rounds; r++)
        {
            int got = _pool.Alloc(_burst);
            total += got;
            Mbuf.Free(_burst.AsSpan(0, got));
        }
        return total;
    }
}
