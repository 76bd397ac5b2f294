using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Pmd.Vm.Tests;

/// <summary>
/// A guest NIC's wire through the host kernel, for the offloads a UDP netdev cannot carry: QEMU's
/// tap netdev (with vnet headers, so virtio-net-pci offers CSUM, HOST_TSO and GUEST_TSO) is joined
/// by tc redirects to one end of a veth pair; the test holds a packet socket on the other end.
/// The tap-side veth has TX checksum and segmentation off, so every checksum
/// and TSO request from the guest is completed by Linux's own stack (skb_checksum_help and GSO)
/// on its way here: the test sees real segments, as a peer on a wire would. The socket uses
/// PACKET_VNET_HDR, so a test can also send a partial checksum or a GSO super-frame to the guest,
/// which reaches QEMU whole only if the guest's driver negotiated GUEST_CSUM or GUEST_TSO (the
/// kernel completes or cuts it before the tap otherwise). Needs root, iproute2 (ip, tc with u32 and mirred) and ethtool.
/// </summary>
public sealed class TapWire : IGuestWire, IDisposable
{
    private const int AfPacket = 17, SolPacket = 263, PacketVnetHdr = 15, PacketIgnoreOutgoing = 23;
    private const ushort EthPAll = 0x0003;
    private static int _instances;

    private readonly Socket _socket;
    private readonly string _wirePort, _testPort;
    private readonly byte[] _receive = new byte[VnetHeader.Size + 65536 + 4096];
    private long _sent, _received;

    private TapWire(string prefix)
    {
        TapName = prefix + "t";
        _wirePort = prefix + "p";
        _testPort = prefix + "w";
        Run("ip", "tuntap", "add", "dev", TapName, "mode", "tap", "vnet_hdr");
        Run("ip", "link", "add", _wirePort, "type", "veth", "peer", "name", _testPort);
        foreach (var dev in new[] { TapName, _wirePort, _testPort })
        {
            // No router solicitations or MLD reports from the host on this wire.
            File.WriteAllText($"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6", "1");
        }
        Run("ethtool", "-K", _wirePort, "tx", "off", "tso", "off", "gso", "off");
        foreach (var dev in new[] { TapName, _wirePort, _testPort }) Run("ip", "link", "set", dev, "up");
        // The tap and the veth end are joined by tc redirects, both ways, rather than by a bridge:
        // br_netfilter, when loaded, drops IPv4 frames with a bad header checksum on any bridge.
        Redirect(TapName, _wirePort);
        Redirect(_wirePort, TapName);

        _socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness(EthPAll));
        _socket.SetRawSocketOption(SolPacket, PacketVnetHdr, BitConverter.GetBytes(1));
        _socket.SetRawSocketOption(SolPacket, PacketIgnoreOutgoing, BitConverter.GetBytes(1));
        _socket.ReceiveBufferSize = 8 << 20;
        _socket.SendBufferSize = 8 << 20;
        Bind(_socket, int.Parse(File.ReadAllText($"/sys/class/net/{_testPort}/ifindex").Trim(), System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Builds the tap, the veth pair and the redirects between them (names from the process id, at most 15 characters) and opens the socket.</summary>
    public static TapWire Create()
    {
        if (!File.Exists("/dev/net/tun")) throw new InvalidOperationException("no /dev/net/tun: the tap wire needs the tun driver");
        string prefix = $"pmd{Environment.ProcessId % 100000}x{Interlocked.Increment(ref _instances)}";
        var wire = (TapWire?)null;
        try
        {
            wire = new TapWire(prefix);
            return wire;
        }
        catch
        {
            DeleteLinks(prefix);
            throw;
        }
    }

    /// <summary>The tap QEMU's netdev opens (PMD_VM_TAP0).</summary>
    public string TapName { get; }

    public long Sent => Interlocked.Read(ref _sent);

    public long Received => Interlocked.Read(ref _received);

    /// <summary>Sends a plain frame: no checksum left to do, no segmentation.</summary>
    public void Send(ReadOnlySpan<byte> frame) => Send(default, frame);

    /// <summary>Sends <paramref name="frame"/> with <paramref name="header"/>: a partial checksum or a GSO super-frame.</summary>
    public void Send(VnetHeader header, ReadOnlySpan<byte> frame)
    {
        var packet = new byte[VnetHeader.Size + frame.Length];
        header.Write(packet);
        frame.CopyTo(packet.AsSpan(VnetHeader.Size));
        int n = _socket.Send(packet);
        if (n != packet.Length) throw new InvalidOperationException($"the packet socket took {n} of {packet.Length} bytes");
        Interlocked.Increment(ref _sent);
    }

    public async Task<byte[]?> ReceiveAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        (await ReceiveWithHeaderAsync(timeout, cancellationToken))?.Frame;

    /// <summary>The next frame from the guest with the header the kernel gave it, or null after <paramref name="timeout"/>.</summary>
    public async Task<(VnetHeader Header, byte[] Frame)?> ReceiveWithHeaderAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            int n = await _socket.ReceiveAsync(_receive, SocketFlags.None, cts.Token);
            if (n < VnetHeader.Size) throw new InvalidDataException($"a {n}-byte read from the packet socket, shorter than its vnet header");
            Interlocked.Increment(ref _received);
            return (VnetHeader.Read(_receive), _receive[VnetHeader.Size..n]);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        DeleteLinks(TapName[..^1]);
    }

    private static void DeleteLinks(string prefix)
    {
        // A veth goes with its peer; the tap is persistent.
        foreach (var dev in new[] { prefix + "p", prefix + "t" })
            if (Directory.Exists($"/sys/class/net/{dev}")) TryRun("ip", "link", "del", dev);
    }

    /// <summary>Every frame that arrives on <paramref name="from"/> is sent out of <paramref name="to"/> (through its offload checks).</summary>
    private static void Redirect(string from, string to)
    {
        Run("tc", "qdisc", "add", "dev", from, "clsact");
        Run("tc", "filter", "add", "dev", from, "ingress", "protocol", "all", "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", to);
    }

    private static void Bind(Socket socket, int ifindex)
    {
        var address = new byte[20];   // struct sockaddr_ll
        BinaryPrimitives.WriteUInt16LittleEndian(address, AfPacket);
        BinaryPrimitives.WriteUInt16BigEndian(address.AsSpan(2), EthPAll);
        BinaryPrimitives.WriteInt32LittleEndian(address.AsSpan(4), ifindex);
        if (BindRaw((int)socket.SafeHandle.DangerousGetHandle(), address, address.Length) != 0)
            throw new InvalidOperationException($"bind(AF_PACKET, ifindex {ifindex}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static extern int BindRaw(int fd, byte[] address, int length);

    private static void Run(string tool, params string[] args)
    {
        var (rc, output) = Exec(tool, args);
        if (rc != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', args)} exited {rc}: {output.Trim()}");
    }

    private static void TryRun(string tool, params string[] args) => Exec(tool, args);

    private static (int Exit, string Output) Exec(string tool, string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException($"{tool} is not installed: run tools/setup-host.sh ({e.Message})", e); }
        using (p)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, stdout + stderr.Result);
        }
    }
}
