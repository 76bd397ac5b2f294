using System.Buffers.Binary;
using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;
using Pmd.VirtioNet;

namespace Pmd.Failover.Tests;

/// <summary>
/// Two DPDK vhost-user backends: A behind the standby (virtio-user with standby=1) and B behind a
/// stand-in primary (virtio-user with the same mac=). The failover code does not know which driver
/// the primary uses, so this exercises the same paths a VF would.
/// </summary>
internal sealed class VhostFailoverRig : IDisposable
{
    public static readonly MacAddress Mac = MacAddress.Parse("52:54:00:fa:11:01");
    private static int s_counter;
    private readonly int _id = Interlocked.Increment(ref s_counter);
    private readonly Mbuf[] _tx = new Mbuf[32];
    private readonly Mbuf[] _rx = new Mbuf[32];
    private uint _seq;

    /// <param name="config">The failover port's configuration (its RxPool is set here); default: no offloads.</param>
    /// <param name="standbyBackendArgs">Appended to backend A's net_vhost0 devargs (e.g. ",tso=1").</param>
    public VhostFailoverRig(string mode = "macswap", PortConfig? config = null, string? standbyBackendArgs = null)
    {
        VirtioUserDriver.Register();
        SocketA = $"/tmp/pmd-fo-{Environment.ProcessId}-{_id}-a.sock";
        SocketB = $"/tmp/pmd-fo-{Environment.ProcessId}-{_id}-b.sock";
        Mode = mode;
        BackendA = DpdkVhostBackend.Start(SocketA, mode, vhostArgs: standbyBackendArgs);
        BackendB = DpdkVhostBackend.Start(SocketB, mode);
        Pool = Mempool.Create($"fo{_id}", 16384);
        Registry = new PortRegistry();
        Standby = Registry.Attach($"net_virtio_user0,path={SocketA},mac={Mac},standby=1");
        Assert.True(Standby.IsFailoverStandby, "the standby did not negotiate VIRTIO_NET_F_STANDBY");
        Failover = new FailoverPort("net_failover0", Standby, Registry);
        Registry.Add(Failover);
        config ??= new PortConfig();
        config.RxPool = Pool;
        Failover.Configure(config);
        Failover.Start();
    }

    public string Mode { get; }
    public string SocketA { get; }
    public string SocketB { get; }
    public DpdkVhostBackend BackendA { get; }
    public DpdkVhostBackend BackendB { get; set; }
    public Mempool Pool { get; }
    public PortRegistry Registry { get; }
    public EthPort Standby { get; }
    public FailoverPort Failover { get; }
    public long Accepted { get; private set; }
    public long Received { get; private set; }

    /// <summary>Attaches a port on backend B with the standby's MAC and waits until TX uses it.</summary>
    /// <param name="devargs">Appended to the primary's devargs (e.g. ",csum=0,tso=0" for one without offloads).</param>
    public EthPort AttachPrimary(string devargs = "")
    {
        var primary = Registry.Attach($"net_virtio_user1,path={SocketB},mac={Mac}{devargs}");
        WaitFor(() => Failover.Primary == primary && Failover.FailoverState == FailoverState.PrimaryActive && TxOnPrimary, TimeSpan.FromSeconds(10), "the primary to become active");
        return primary;
    }

    public bool TxOnPrimary => Failover.Info.Details.Any(d => d.Key == "tx on" && d.Value.StartsWith("primary", StringComparison.Ordinal));

    /// <summary>One round of traffic both ways: a burst of sequenced frames out, whatever came back in.</summary>
    public int Pump()
    {
        int got = Pool.Alloc(_tx);
        for (int i = 0; i < got; i++)
        {
            var d = _tx[i].Append(64);
            MacAddress.Parse("02:00:00:00:00:02").CopyTo(d);
            Mac.CopyTo(d[6..]);
            BinaryPrimitives.WriteUInt16BigEndian(d[12..], Frames.EtherType);
            BinaryPrimitives.WriteUInt32BigEndian(d[14..], _seq++);
        }
        int sent = Failover.TxBurst(0, _tx.AsSpan(0, got));
        Mbuf.Free(_tx.AsSpan(sent, got - sent));
        Accepted += sent;
        int n = Failover.RxBurst(0, _rx);
        Mbuf.Free(_rx.AsSpan(0, n));
        Received += n;
        return sent;
    }

    public void PumpFor(TimeSpan time)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < time) Pump();
    }

    /// <summary>
    /// Stops sending, waits until the standby's backend has taken everything from our TX ring (a
    /// backend starved of CPU may lag), and keeps receiving until nothing more arrives.
    /// </summary>
    public void Quiesce()
    {
        var quiet = Stopwatch.StartNew();
        var limit = Stopwatch.StartNew();
        while (quiet.Elapsed < TimeSpan.FromMilliseconds(300) && limit.Elapsed < TimeSpan.FromSeconds(20))
        {
            Failover.TxBurst(0, []);
            if (Standby.TxDoneCleanup(0) > 0) quiet.Restart();
            int n = Failover.RxBurst(0, _rx);
            Mbuf.Free(_rx.AsSpan(0, n));
            Received += n;
            if (n > 0) quiet.Restart();
        }
    }

    public ulong Xstat(string name) => Failover.GetXstats().Single(x => x.Name == name).Value;

    public static void WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"timed out waiting for {what}");
            Thread.Sleep(2);
        }
    }

    public void Dispose()
    {
        Registry.Dispose();
        BackendA.Dispose();
        BackendB.Dispose();
        Pool.Dispose();
    }
}
