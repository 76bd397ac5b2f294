using System.Diagnostics;
using System.Runtime.InteropServices;
using Pmd.Threading;

namespace Pmd.Abstractions.Tests;

/// <summary>
/// When epoll_wait itself fails, the control thread cannot go on. It must say so at once, to every
/// caller, rather than leave each Invoke waiting out its 30 s timeout with events silently gone.
/// </summary>
public sealed partial class ControlThreadFaultTests
{
    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int Dup2(int oldFd, int newFd);

    [Fact]
    public void A_failing_epoll_wait_faults_the_thread_and_every_caller_hears_it_at_once()
    {
        using var control = new ControlThread("fault-test");
        control.Invoke(() => { });
        Assert.False(control.Faulted);

        // Hold the loop in a timer callback (after this pass's posted work, before its next
        // epoll_wait), point its epoll fd at /dev/null, and queue an Invoke meanwhile: the loop's
        // next epoll_wait fails with EINVAL, and the queued Invoke can never run.
        using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        control.Schedule(TimeSpan.Zero, () => { held.Set(); release.Wait(); });
        Assert.True(held.Wait(TimeSpan.FromSeconds(5)));
        Assert.Equal(control.EpollFd, Dup2((int)devNull.DangerousGetHandle(), control.EpollFd));
        var watch = Stopwatch.StartNew();
        var waiting = Task.Run(() => control.Invoke(() => { }, TimeSpan.FromSeconds(30)));
        Thread.Sleep(100);
        release.Set();

        var thrown = Assert.Throws<AggregateException>(() => waiting.Wait(TimeSpan.FromSeconds(10)));
        var fault = Assert.IsType<ControlThreadFaultedException>(thrown.InnerException);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"the waiting Invoke took {watch.Elapsed.TotalSeconds:0.0} s to fail");
        Assert.Contains("epoll_wait failed", fault.Message, StringComparison.Ordinal);
        Assert.True(control.Faulted);
        Assert.Throws<ControlThreadFaultedException>(() => control.Invoke(() => { }));
        Assert.Throws<ControlThreadFaultedException>(() => control.Post(() => { }));
        Assert.Throws<ControlThreadFaultedException>(() => control.Schedule(TimeSpan.Zero, () => { }));
    }
}
