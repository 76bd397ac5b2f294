using Pmd.Memory;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// One mempool per target for the life of the process (creating one per input would dominate the
/// run time). No per-thread cache, so InUse is exact. A pool left with mbufs in use by a finding
/// is replaced, so one finding does not turn every later input into a false one.
/// </summary>
internal sealed class FuzzPools(string name, int count, int bufferSize = Mempool.DefaultBufferSize)
{
    private Mempool? _pool;

    public Mempool Get()
    {
        if (_pool is { InUse: not 0 }) _pool = null;   // leaked by an earlier finding: never reused
        return _pool ??= Mempool.Create(name, count, cacheSize: 0, bufferSize: bufferSize, allowHugePages: false);
    }
}
