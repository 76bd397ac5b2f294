namespace Pmd.TestSupport;

/// <summary>The zero-allocation check of a datapath: a warm-up, then the bytes allocated on this thread over a measured run.</summary>
public static class SteadyState
{
    /// <summary>One round of traffic: moves packets and adds what it received to <paramref name="moved"/>.</summary>
    public delegate void Round(ref long moved);

    /// <summary>
    /// Runs <paramref name="round"/> until <paramref name="warmup"/> packets moved, then until
    /// <paramref name="packets"/> more did; returns the bytes allocated on this thread in the second part.
    /// </summary>
    public static long AllocatedBytes(Round round, long packets, long warmup = 50_000)
    {
        long moved = 0;
        while (moved < warmup) round(ref moved);
        moved = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        while (moved < packets) round(ref moved);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
