using BenchmarkDotNet.Attributes;
using Pmd.Memory;

namespace Pmd.Benchmarks;

/// <summary>Building and freeing a 5-segment chain (a 9000-byte frame in 2 KiB buffers), and reading it back.</summary>
[MemoryDiagnoser]
public class MbufBenchmarks
{
    private Mempool _pool = null!;
    private readonly byte[] _flat = new byte[9000];

    [GlobalSetup]
    public void Setup() => _pool = Mempool.Create("bench-chain", 4096);

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark]
    public int ChainBuildCopyFree()
    {
        var head = _pool.Alloc();
        head.Append(2048);
        for (int i = 0; i < 4; i++)
        {
            var seg = _pool.Alloc();
            seg.Append(i < 3 ? 2048 : 808);
            head.Chain(seg);
        }
        int n = head.CopyTo(_flat);
        head.Free();
        return n;
    }
}
