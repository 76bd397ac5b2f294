using System.Runtime.InteropServices;

namespace Pmd.TestPmd.Interop;

/// <summary>Pins the calling thread to one CPU, as DPDK pins each lcore thread.</summary>
internal static unsafe partial class Affinity
{
    // A cpu_set_t of 1024 bits, glibc's default size.
    private const int MaskWords = 16;

    /// <summary>Pins the calling thread (pid 0 means "this thread" to sched_setaffinity); returns errno, 0 on success.</summary>
    public static int PinCurrentThread(int cpu)
    {
        if ((uint)cpu >= MaskWords * 64) return 22; // EINVAL
        ulong* mask = stackalloc ulong[MaskWords];
        new Span<ulong>(mask, MaskWords).Clear();
        mask[cpu / 64] = 1UL << (cpu % 64);
        return SchedSetAffinity(0, MaskWords * sizeof(ulong), mask) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nuint cpusetsize, ulong* mask);
}
