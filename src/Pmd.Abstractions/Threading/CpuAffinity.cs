using Pmd.Interop;

namespace Pmd.Threading;

/// <summary>Pins threads to CPUs, as DPDK pins each lcore thread to its core.</summary>
public static unsafe class CpuAffinity
{
    // A cpu_set_t of 1024 bits, glibc's default size.
    private const int MaskWords = 16;

    /// <summary>The highest CPU number a pin can name, plus one.</summary>
    public const int MaxCpus = MaskWords * 64;

    /// <summary>Pins the calling thread to <paramref name="cpu"/>; returns 0, or the errno of sched_setaffinity.</summary>
    public static int PinCurrentThread(int cpu)
    {
        if ((uint)cpu >= MaxCpus) return Libc.EINVAL;
        ulong* mask = stackalloc ulong[MaskWords];
        new Span<ulong>(mask, MaskWords).Clear();
        mask[cpu / 64] = 1UL << (cpu % 64);
        // pid 0 is "the calling thread" to sched_setaffinity.
        return Libc.SchedSetAffinity(0, MaskWords * sizeof(ulong), mask) == 0 ? 0 : Libc.LastErrno;
    }

    /// <summary>The message for an errno that <see cref="PinCurrentThread"/> returned.</summary>
    public static string Describe(int errno) => Libc.Describe(errno);
}
