// A Pmd app that knows Pmd only through its NuGet packages: it attaches a virtio-user port to a
// vhost-user backend that loops frames back (dpdk-testpmd --forward-mode=io), sends numbered UDP
// frames and checks that every one comes back byte for byte. Usage: PackageSmoke SOCKET FRAMES
using System.Buffers.Binary;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.VirtioNet;

string socket = args[0];
int frames = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
VirtioUserDriver.Register();
Pmd.Failover.FailoverDriver.Register();
using var pool = Mempool.Create("smoke", 4096);
using var registry = new PortRegistry();
var port = registry.Attach($"net_virtio_user0,path={socket}");
port.Configure(new PortConfig { RxPool = pool });
port.Start();
for (int i = 0; i < 200 && !port.Link.Up; i++) Thread.Sleep(10);
Console.WriteLine($"port {port.PortId} ({port.Info.DriverName}) link {(port.Link.Up ? "up" : "down")}");

var burst = new Mbuf[32];
int sent = 0, received = 0, bad = 0;
var deadline = DateTime.UtcNow.AddSeconds(20);
while (received < frames && DateTime.UtcNow < deadline)
{
    // At most 128 frames in flight: the backend drops what finds our RX ring (256) full.
    int want = Math.Min(Math.Min(burst.Length, frames - sent), 128 - (sent - received));
    if (want > 0)
    {
        int n = pool.Alloc(burst.AsSpan(0, want));
        for (int i = 0; i < n; i++) Fill(burst[i], sent + i);
        int accepted = port.TxBurst(0, burst.AsSpan(0, n));
        Mbuf.Free(burst.AsSpan(accepted, n - accepted));
        sent += accepted;
    }
    int got = port.RxBurst(0, burst);
    for (int i = 0; i < got; i++)
    {
        if (!Check(burst[i])) bad++;
        burst[i].Free();
    }
    received += got;
}
var stats = port.GetStats();
Console.WriteLine($"sent {sent} received {received} bad {bad} (port stats: tx {stats.TxPackets} rx {stats.RxPackets})");
port.Stop();
port.Close();
return sent == frames && received == frames && bad == 0 ? 0 : 1;

// 128-byte frames: broadcast Ethernet, IPv4/UDP, the sequence number, then a pattern from it.
static void Fill(Mbuf m, int seq)
{
    var f = m.Append(128);
    f.Clear();
    f[..6].Fill(0xFF);
    f[6] = 0x02;
    BinaryPrimitives.WriteUInt16BigEndian(f[12..], 0x0800);
    BinaryPrimitives.WriteInt32BigEndian(f[42..], seq);
    for (int i = 46; i < f.Length; i++) f[i] = (byte)(seq + i);
}

static bool Check(Mbuf m)
{
    var f = m.Data;
    if (f.Length != 128 || BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != 0x0800) return false;
    int seq = BinaryPrimitives.ReadInt32BigEndian(f[42..]);
    for (int i = 46; i < f.Length; i++)
        if (f[i] != (byte)(seq + i)) return false;
    return true;
}
