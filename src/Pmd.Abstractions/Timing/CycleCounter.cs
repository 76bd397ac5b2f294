using System.Diagnostics;
using System.Runtime.InteropServices;
using Pmd.Interop;

namespace Pmd.Timing;

/// <summary>
/// A cheap timestamp for timing bursts on a polling thread (DPDK's rte_rdtsc and rte_get_tsc_hz).
/// On x86-64 it reads the TSC: .NET exposes no RDTSC intrinsic, so a ten-byte routine is placed in
/// an executable page of our own and called without a GC transition. Stopwatch would do, but under
/// a hypervisor its clock_gettime costs tens of nanoseconds, more than a 64-byte packet's whole
/// budget, and timing every burst with it would distort what it measures. Elsewhere it is Stopwatch.
/// </summary>
public static unsafe class CycleCounter
{
    // rdtsc; shl rdx, 32; or rax, rdx; ret
    private static ReadOnlySpan<byte> ReadTscCode => [0x0F, 0x31, 0x48, 0xC1, 0xE2, 0x20, 0x48, 0x09, 0xD0, 0xC3];

    private static readonly delegate* unmanaged[SuppressGCTransition]<long> s_readTsc = CreateTscReader();

    /// <summary>Ticks per second of <see cref="Read"/>, measured against Stopwatch at first use.</summary>
    public static readonly long Frequency = s_readTsc == null ? Stopwatch.Frequency : MeasureTscFrequency();

    /// <summary>Whether <see cref="Read"/> is the TSC (false: Stopwatch).</summary>
    public static bool IsTsc => s_readTsc != null;

    public static long Read() => s_readTsc != null ? s_readTsc() : Stopwatch.GetTimestamp();

    public static double ToNanoseconds(long ticks) => ticks * 1e9 / Frequency;

    private static delegate* unmanaged[SuppressGCTransition]<long> CreateTscReader()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 || !OperatingSystem.IsLinux()) return null;
        const nuint Page = 4096;
        nint page = Libc.MMap(0, Page, Libc.Prot.Read | Libc.Prot.Write, Libc.MapFlags.Private | Libc.MapFlags.Anonymous, -1, 0);
        if (page == Libc.MapFailed) return null;
        ReadTscCode.CopyTo(new Span<byte>((void*)page, ReadTscCode.Length));
        // Written, then made executable and never writable again. The page lives as long as the process.
        if (Libc.MProtect(page, Page, Libc.Prot.Read | Libc.Prot.Exec) != 0)
        {
            Libc.MUnmap(page, Page);
            return null;
        }
        return (delegate* unmanaged[SuppressGCTransition]<long>)page;
    }

    private static long MeasureTscFrequency()
    {
        // 20 ms against the monotonic clock: within 0.1% for a constant-rate TSC, which is what
        // every CPU of the last fifteen years has and what DPDK relies on too.
        long w0 = Stopwatch.GetTimestamp(), t0 = s_readTsc();
        Thread.Sleep(20);
        long w1 = Stopwatch.GetTimestamp(), t1 = s_readTsc();
        double seconds = (double)(w1 - w0) / Stopwatch.Frequency;
        return (long)((t1 - t0) / seconds);
    }
}
