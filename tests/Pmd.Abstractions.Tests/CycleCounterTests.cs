using System.Diagnostics;
using System.Runtime.InteropServices;
using Pmd.Timing;

namespace Pmd.Abstractions.Tests;

public sealed class CycleCounterTests
{
    [Fact]
    public void On_x86_64_it_is_the_TSC_and_its_ticks_agree_with_the_monotonic_clock()
    {
        if (RuntimeInformation.ProcessArchitecture == Architecture.X64) Assert.True(CycleCounter.IsTsc, "the TSC reader could not be set up");
        long w0 = Stopwatch.GetTimestamp(), c0 = CycleCounter.Read();
        Thread.Sleep(200);
        long w1 = Stopwatch.GetTimestamp(), c1 = CycleCounter.Read();
        double wall = Stopwatch.GetElapsedTime(w0, w1).TotalNanoseconds;
        double counted = CycleCounter.ToNanoseconds(c1 - c0);
        // Calibrated over 20 ms, checked over 200: within 5%, room for a preemption between two reads.
        Assert.InRange(counted / wall, 0.95, 1.05);
    }

    [Fact]
    public void It_never_runs_backwards_on_one_thread()
    {
        long last = CycleCounter.Read();
        for (int i = 0; i < 100_000; i++)
        {
            long now = CycleCounter.Read();
            Assert.True(now >= last, $"{now} after {last}");
            last = now;
        }
    }
}
