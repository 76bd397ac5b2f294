// The Pmd side of perf/offloads/tso.py: Pmd's virtio-user port sending 64 KiB TCP/IPv4 TSO
// frames (MSS 1448) for a number of seconds, the same frames tso_dpdk.c sends through DPDK's
// virtio-user. Frames are built once and sent again and again (a reference taken on each segment
// per send), so no payload is touched: what is measured is the driver's cost per frame and what
// the backend takes. Prints one line: frames, Gbit/s of TCP frames handed over, TSC cycles per frame.
//
// Run: dotnet run -c Release perf/offloads/TsoSender.cs -- SOCKET SECONDS
#:project ../../src/Pmd.VirtioNet/Pmd.VirtioNet.csproj
#:property AllowUnsafeBlocks=true
#:property PublishAot=false
using System.Buffers.Binary;
using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.Timing;
using Pmd.VirtioNet;

const int Frames = 64, Burst = 16, Payload = 65536 - 14 - 20 - 20 - 2, Mss = 1448, SegmentData = 2048;
string socket = args.Length > 0 ? args[0] : "/tmp/tso.sock";
double seconds = args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;

VirtioUserDriver.Register();
using var pool = Mempool.Create("tso", 8191);
using var registry = new PortRegistry();
var port = registry.Attach($"net_virtio_user0,path={socket}");
port.Configure(new PortConfig { RxPool = pool, TxOffloads = TxOffloads.TcpTso | TxOffloads.TcpChecksum | TxOffloads.MultiSegment });
port.Start();

var frames = new Mbuf[Frames];
for (int i = 0; i < Frames; i++) frames[i] = Build(pool, (uint)(i * Payload));
var burst = new Mbuf[Burst];
long sent = 0, busy = 0;
int next = 0;
// A second of the same loop first, unmeasured, so that the JIT's tier-1 code is what is measured.
Send(TimeSpan.FromSeconds(1.5));
sent = busy = 0;
var clock = Stopwatch.StartNew();
Send(TimeSpan.FromSeconds(seconds));
double elapsed = clock.Elapsed.TotalSeconds;
Console.WriteLine(FormattableString.Invariant(
    $"frames={sent} seconds={elapsed:F2} gbps={sent * (54.0 + Payload) * 8 / elapsed / 1e9:F3} cycles_per_frame={(sent > 0 ? (double)busy / sent : 0):F0}"));
port.Stop();
foreach (var f in frames) f.Free();

void Send(TimeSpan time)
{
var watch = Stopwatch.StartNew();
while (watch.Elapsed < time)
{
    for (int i = 0; i < Burst; i++)
    {
        burst[i] = frames[(next + i) % Frames];
        for (var s = burst[i]; !s.IsNull; s = s.Next) s.AddRef();
    }
    long t0 = CycleCounter.Read();
    int n = port.TxBurst(0, burst);
    if (n > 0) busy += CycleCounter.Read() - t0;
    for (int i = n; i < Burst; i++) burst[i].Free();
    next = (next + n) % Frames;
    sent += n;
}
}

static Mbuf Build(Mempool pool, uint seq)
{
    var head = pool.Alloc();
    var h = head.Append(54);
    h.Clear();
    new byte[] { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 }.CopyTo(h);
    BinaryPrimitives.WriteUInt16BigEndian(h[12..], 0x0800);
    var ip = h[14..];
    ip[0] = 0x45;
    BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 20 + 20 + Payload);
    ip[8] = 64;
    ip[9] = 6;
    BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0a000001);
    BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0a000002);
    var tcp = h[34..];
    BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
    BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 5001);
    BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
    tcp[12] = 5 << 4;
    tcp[13] = 0x10;
    BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
    for (int left = Payload; left > 0;)
    {
        var seg = pool.Alloc();
        int n = Math.Min(left, SegmentData);
        seg.Append(n).Fill((byte)seq);
        head.Chain(seg);
        left -= n;
    }
    head.Flags = OffloadFlags.TxIpv4 | OffloadFlags.TxTcpSegmentation;
    head.L2Length = 14;
    head.L3Length = 20;
    head.L4Length = 20;
    head.TsoSegmentSize = Mss;
    return head;
}
