using System.Buffers.Binary;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Failover;

/// <summary>
/// Tells the network which path the port's MAC is on now: RARP frames from the MAC, as QEMU's
/// announce-self sends after a migration, so a learning bridge or vSwitch moves the MAC to the
/// port TX uses now instead of sending to the old one until the guest happens to talk. The first
/// frame goes from the caller (the control thread, at the switch), the rest from a timer of its
/// own: the control thread may be busy for a second attaching a hot-plugged primary exactly when
/// they are due. Every frame goes through the port's TX queue 0 between the datapath's bursts
/// (see <see cref="QuiescentGuard"/>), so it leaves at once even when the application is not
/// sending, and the datapath pays nothing for it.
/// </summary>
internal sealed class MacAnnouncement : IDisposable
{
    /// <summary>Frames after a switch, <see cref="Interval"/> apart (the first at once).</summary>
    public const int Rounds = 3;

    public const int FrameLength = 60;
    private const ushort EtherTypeRarp = 0x8035;

    private readonly MacAddress _mac;
    private readonly Func<Mbuf, bool> _sendOnTxPath;
    private readonly Lock _lock = new();
    private readonly Timer _timer;
    private Mempool? _pool;
    private int _remaining;
    private bool _disposed;
    private ulong _sent;

    public MacAnnouncement(MacAddress mac, Func<Mbuf, bool> sendOnTxPath)
    {
        _mac = mac;
        _sendOnTxPath = sendOnTxPath;
        _timer = new Timer(_ => OnTimer());
    }

    /// <summary>Time between frames: 50 ms, QEMU's first announce step.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMilliseconds(50);

    public ulong Sent => Volatile.Read(ref _sent);

    /// <summary>Sends <paramref name="frames"/> announcements on whatever path TX takes, the first now.</summary>
    public void Request(Mempool pool, int frames = Rounds)
    {
        lock (_lock)
        {
            if (_disposed) return;
            _pool = pool;
            _remaining = Math.Max(_remaining, frames);
            SendOne();
        }
    }

    /// <summary>No more frames (the port is closing).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _remaining = 0;
            _timer.Dispose();
        }
    }

    private void OnTimer()
    {
        lock (_lock)
        {
            if (!_disposed) SendOne();
        }
    }

    private void SendOne()
    {
        if (_remaining <= 0 || _pool is not { } pool) return;
        _remaining--;
        var m = pool.Alloc();
        if (!m.IsNull)
        {
            Write(m.Append(FrameLength), _mac);
            if (_sendOnTxPath(m)) Volatile.Write(ref _sent, _sent + 1);
            else m.Free();
        }
        // One timer: a request while frames are due only tops their number up.
        _timer.Change(_remaining > 0 ? Interval : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
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
