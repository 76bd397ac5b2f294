namespace Pmd.Memory;

/// <summary>
/// One thread's stash of free mbufs for one pool, so that most gets and puts touch no shared
/// cache line. Only its owning thread writes it; other threads read <see cref="Count"/> for the
/// pool's counters.
/// </summary>
internal sealed class MempoolCache(Mempool pool, int size)
{
    public readonly Mempool Pool = pool;

    /// <summary>The level a refill fills up to and a flush drains down to.</summary>
    public readonly int Size = size;

    /// <summary>Above this, a put flushes back to the shared ring (DPDK uses 1.5 x size).</summary>
    public readonly int FlushThreshold = size + size / 2;

    public readonly nint[] Objects = new nint[size * 2 + Mempool.MaxCachedBulk];

    public int Count;
}
