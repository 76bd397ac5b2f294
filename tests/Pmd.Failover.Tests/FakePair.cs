using System.Collections.Concurrent;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Failover.Tests;

/// <summary>A registry with a fake standby, a failover port over it, and helpers to add primaries.</summary>
internal sealed class FakePair : IDisposable
{
    public static readonly MacAddress Mac = MacAddress.Parse("52:54:00:aa:bb:01");

    public FakePair(bool start = true)
    {
        Pool = Mempool.Create($"fake{Guid.NewGuid():N}"[..12], 4096, cacheSize: 64);
        Registry = new PortRegistry();
        foreach (var t in new[] { PortEventType.Failover, PortEventType.Destroy, PortEventType.New })
            Registry.Subscribe(t, Events.Add);
        Standby = new FakePort("standby", Mac) { Standby = true };
        Registry.Add(Standby);
        Failover = new FailoverPort("net_failover0", Standby, Registry)
        {
            // Only the first announcement of each switch (sent at once) unless a test asks for the rounds:
            // the counts the tests assert then do not depend on timing.
            AnnouncementInterval = TimeSpan.FromHours(1),
        };
        Registry.Add(Failover);
        Failover.Configure(new PortConfig { RxQueues = 2, TxQueues = 2, RxPool = Pool });
        if (start) Failover.Start();
    }

    public Mempool Pool { get; }
    public PortRegistry Registry { get; }
    public FakePort Standby { get; }
    public FailoverPort Failover { get; }
    public BlockingCollection<PortEvent> Events { get; } = [];

    public FakePort AddPrimary(string name, MacAddress? mac = null)
    {
        var p = new FakePort(name, mac ?? Mac);
        Registry.Add(p);
        return p;
    }

    /// <summary>Waits until the control thread has handled everything queued so far (twice: handlers post more work).</summary>
    public void Settle()
    {
        for (int i = 0; i < 3; i++) Registry.Control.Invoke(() => { });
    }

    public void Dispose()
    {
        Registry.Dispose();
        Pool.Dispose();
    }
}
