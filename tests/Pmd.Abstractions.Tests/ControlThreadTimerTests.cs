using System.Collections.Concurrent;
using System.Diagnostics;
using Pmd.Threading;

namespace Pmd.Abstractions.Tests;

/// <summary>The control thread's timers, which drive the vhost-user client's reconnect backoff.</summary>
public sealed class ControlThreadTimerTests
{
    [Fact]
    public void Scheduled_work_runs_on_the_control_thread_in_due_order_and_not_early()
    {
        using var control = new ControlThread("timer-test");
        var order = new ConcurrentQueue<(int Id, long Ms, bool OnControl)>();
        var watch = Stopwatch.StartNew();
        using var done = new CountdownEvent(3);
        control.Schedule(TimeSpan.FromMilliseconds(150), () => { order.Enqueue((3, watch.ElapsedMilliseconds, control.IsCurrent)); done.Signal(); });
        control.Schedule(TimeSpan.FromMilliseconds(20), () => { order.Enqueue((1, watch.ElapsedMilliseconds, control.IsCurrent)); done.Signal(); });
        control.Schedule(TimeSpan.FromMilliseconds(60), () => { order.Enqueue((2, watch.ElapsedMilliseconds, control.IsCurrent)); done.Signal(); });
        Assert.True(done.Wait(TimeSpan.FromSeconds(5)), "the timers did not all fire");
        var fired = order.ToArray();
        Assert.Equal([1, 2, 3], fired.Select(f => f.Id));
        Assert.All(fired, f => Assert.True(f.OnControl));
        Assert.True(fired[0].Ms >= 19 && fired[2].Ms >= 149, $"fired early: {string.Join(", ", fired.Select(f => f.Ms))} ms");
        // Well under the loop's idle wait of one second: the timer shortens it.
        Assert.True(fired[0].Ms < 500, $"the 20 ms timer fired after {fired[0].Ms} ms");
    }

    [Fact]
    public void A_timer_that_throws_does_not_stop_the_next_one()
    {
        using var control = new ControlThread("timer-test");
        using var ran = new ManualResetEventSlim();
        control.Schedule(TimeSpan.FromMilliseconds(5), () => throw new InvalidOperationException("boom"));
        control.Schedule(TimeSpan.FromMilliseconds(10), ran.Set);
        Assert.True(ran.Wait(TimeSpan.FromSeconds(5)));
    }
}
