using System.Net;
using System.Net.Sockets;

namespace Pmd.Vm.Tests;

/// <summary>
/// The host side of the guest NIC's wire: QEMU's dgram netdev carries each raw Ethernet frame in
/// one UDP datagram on 127.0.0.1. This end is bound to <see cref="HostPort"/> (QEMU's remote) and
/// sends to <see cref="GuestPort"/> (QEMU's local), so what is sent here arrives on the guest NIC's
/// receive side, and what the guest transmits arrives here. It counts every frame either way, so
/// that a test can hold the guest's counters against what really crossed the wire.
/// </summary>
public sealed class FrameChannel : IGuestWire, IDisposable
{
    private readonly UdpClient _udp;
    private readonly IPEndPoint _guest;
    private long _sent;
    private long _received;

    public FrameChannel()
    {
        _udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        _udp.Client.ReceiveBufferSize = 4 << 20;
        _udp.Client.SendBufferSize = 4 << 20;
        HostPort = ((IPEndPoint)_udp.Client.LocalEndPoint!).Port;
        GuestPort = FreeUdpPort();
        _guest = new IPEndPoint(IPAddress.Loopback, GuestPort);
    }

    /// <summary>The port this end is bound to; QEMU sends the guest's frames here.</summary>
    public int HostPort { get; }

    /// <summary>The port QEMU's netdev binds; frames sent here reach the guest.</summary>
    public int GuestPort { get; }

    /// <summary>Frames sent towards the guest so far (whether or not QEMU took them).</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Frames that arrived from the guest's QEMU so far, through any of the receive methods.</summary>
    public long Received => Interlocked.Read(ref _received);

    public void Send(ReadOnlySpan<byte> frame)
    {
        _udp.Client.SendTo(frame, SocketFlags.None, _guest);
        Interlocked.Increment(ref _sent);
    }

    /// <summary>The next frame from the guest, or null when none arrives within <paramref name="timeout"/>.</summary>
    public async Task<byte[]?> ReceiveAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        while (true)
        {
            try
            {
                var r = await _udp.ReceiveAsync(cts.Token);
                if (r.RemoteEndPoint.Port != GuestPort) continue;   // not from our QEMU
                Interlocked.Increment(ref _received);
                return r.Buffer;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return null;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // An ICMP port-unreachable from a send before QEMU bound its port; ignore.
            }
        }
    }

    /// <summary>Frames received from now until <paramref name="window"/> passes.</summary>
    public async Task<List<byte[]>> CollectAsync(TimeSpan window, CancellationToken cancellationToken = default)
    {
        var frames = new List<byte[]>();
        var deadline = DateTime.UtcNow + window;
        while (DateTime.UtcNow < deadline)
        {
            var f = await ReceiveAsync(deadline - DateTime.UtcNow, cancellationToken);
            if (f is not null) frames.Add(f);
        }
        return frames;
    }

    private static int FreeUdpPort()
    {
        using var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
    }

    public void Dispose() => _udp.Dispose();
}
