using System.Buffers.Binary;
using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Failover;

/// <summary>
/// Tells the network which path the port's MAC is on now, after each switch: RARP frames from the
/// MAC, as QEMU's announce-self sends after a migration, so a learning bridge or vSwitch moves the
/// MAC to the port TX now uses instead of sending to the old one until the guest happens to talk.
/// The control thread requests it; the datapath thread of TX queue 0 sends the frames it is due,
/// inside its burst, so no second thread ever touches a TX queue. Steady state costs one read.
/// </summary>
internal sealed class MacAnnouncement(MacAddress mac)
{
    /// <summary>Frames per switch, and the gap between them.</summary>
    public const int Rounds = 3;
    private static readonly long Interval = Stopwatch.Frequency / 20;   // 50 ms, QEMU's first announce step

    public const int FrameLength = 60;
    private const ushort EtherTypeRarp = 0x8035;

    private Mempool? _pool;
    private int _remaining;
    private long _due;
    private ulong _sent;

    public ulong Sent => Volatile.Read(ref _sent);

    /// <summary>Control thread: announce on whatever path TX takes next, starting now.</summary>
    public void Request(Mempool pool)
    {
        _pool = pool;
        Volatile.Write(ref _due, Stopwatch.GetTimestamp());
        Volatile.Write(ref _remaining, Rounds);
    }

    public bool IsPending => Volatile.Read(ref _remaining) > 0;

    /// <summary>Datapath (TX queue 0): sends one frame on <paramref name="target"/> if one is due. Allocates nothing from the GC heap.</summary>
    public void SendDue(EthPort target)
    {
        long now = Stopwatch.GetTimestamp();
        if (now < Volatile.Read(ref _due) || _pool is not { } pool) return;
        var m = pool.Alloc();
        if (m.IsNull) return;
        Write(m.Append(FrameLength), mac);
        Span<Mbuf> one = [m];
        if (target.TxBurst(0, one) != 1)
        {
            m.Free();
            return;
        }
        _sent++;
        Volatile.Write(ref _due, now + Interval);
        Interlocked.Decrement(ref _remaining);
    }

    /// <summary>A RARP request (RFC 903) for <paramref name="mac"/>, broadcast, padded to the minimum frame.</summary>
    public static void Write(Span<byte> frame, MacAddress mac)
    {
        frame.Clear();
        MacAddress.Broadcast.CopyTo(frame);
        mac.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypeRarp);
        BinaryPrimitives.WriteUInt16BigEndian(frame[14..], 1);        // hardware: Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(frame[16..], 0x0800);   // protocol: IPv4
        frame[18] = 6;
        frame[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(frame[20..], 3);        // reverse request
        mac.CopyTo(frame[22..]);                                       // sender hardware address; sender IP 0
        mac.CopyTo(frame[32..]);                                       // target hardware address; target IP 0
    }
}
