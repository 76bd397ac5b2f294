using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.VirtioNet.Tests;

/// <summary>A port of ours on a DPDK vhost-user backend, and the pool behind it, torn down in order.</summary>
internal sealed class VhostPeer : IDisposable
{
    private static int s_counter;

    public VhostPeer(string forwardMode, string devargsExtra = "", int queues = 1, int? txPacketLength = null, bool startPort = true, int poolSize = 16384)
    {
        VirtioUserDriver.Register();
        Socket = $"/tmp/pmd-test-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}.sock";
        Backend = DpdkVhostBackend.Start(Socket, forwardMode, queues, txPacketLength: txPacketLength);
        Pool = Mempool.Create($"peer{s_counter}", poolSize);
        Registry = new PortRegistry();
        Registry.Subscribe(PortEventType.LinkStateChange, e => LinkEvents.Add(e));
        Port = Registry.Attach($"net_virtio_user0,path={Socket},queues={queues}{devargsExtra}");
        Port.Configure(new PortConfig { RxQueues = queues, TxQueues = queues, RxPool = Pool });
        if (startPort)
        {
            Port.Start();
            Backend.WaitForDevice();
        }
    }

    public string Socket { get; }
    public DpdkVhostBackend Backend { get; set; }
    public Mempool Pool { get; }
    public PortRegistry Registry { get; }
    public EthPort Port { get; }
    public System.Collections.Concurrent.BlockingCollection<PortEvent> LinkEvents { get; } = [];

    public static MacAddress PeerMac { get; } = MacAddress.Parse("02:00:00:00:00:02");

    /// <summary>Stops the port and checks that every mbuf came home.</summary>
    public void StopAndAssertNoLeak()
    {
        Port.Stop();
        Pool.FlushThreadCache();
        Assert.Equal(0, Pool.InUse);
    }

    public void Dispose()
    {
        Registry.Dispose();
        Backend.Dispose();
        Pool.Dispose();
    }
}
