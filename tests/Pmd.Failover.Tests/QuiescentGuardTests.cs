namespace Pmd.Failover.Tests;

public class QuiescentGuardTests
{
    [Fact]
    public void Entering_a_queue_waits_while_another_thread_is_inside_it_and_other_queues_do_not()
    {
        var guard = new QuiescentGuard(2);
        guard.Enter(0);   // the control thread, sending a frame of its own
        var datapath = new Thread(() => { guard.Enter(0); guard.Exit(0); });
        var other = new Thread(() => { guard.Enter(1); guard.Exit(1); });
        datapath.Start();
        other.Start();
        Assert.True(other.Join(TimeSpan.FromSeconds(5)), "queue 1 waited for queue 0");
        Assert.False(datapath.Join(TimeSpan.FromMilliseconds(200)), "queue 0 was entered twice at once");
        guard.Exit(0);
        Assert.True(datapath.Join(TimeSpan.FromSeconds(5)), "queue 0 stayed locked after the exit");
        Assert.True(guard.WaitForQuiescence(TimeSpan.FromSeconds(1)));
    }
}
