using System.Buffers.Binary;
using Pmd.TestSupport;

namespace Pmd.Vm.Tests;

/// <summary>
/// The host pinging TestPmd's icmpecho mode over a guest NIC's wire: an ARP request for the
/// guest's address, then ICMP echo requests; every reply is checked (addresses swapped, type 0,
/// identifier, sequence and payload kept, both checksums valid).
/// </summary>
public static class PingTraffic
{
    private static readonly byte[] HostIp = [192, 0, 2, 1], GuestIp = [192, 0, 2, 2];
    private const ushort Identifier = 0x5044;

    /// <summary>Sends the ARP request and <paramref name="count"/> pings one at a time on <paramref name="wire"/>; each must be answered there.</summary>
    public static async Task PingAsync(VmGuest vm, FrameChannel wire, byte[] hostMac, byte[] guestMac, int count, CancellationToken ct)
    {
        wire.Send(ArpRequest(hostMac));
        var arp = await NextAsync(vm, wire, 0x0806, ct);
        Assert.True(BinaryPrimitives.ReadUInt16BigEndian(arp.AsSpan(20)) == 2 && arp.AsSpan(28, 4).SequenceEqual(GuestIp) && arp.AsSpan(22, 6).SequenceEqual(guestMac),
            $"the ARP reply does not give {string.Join('.', GuestIp)} at the guest's MAC: {Convert.ToHexString(arp)}.\n{vm.Describe()}");
        for (ushort seq = 1; seq <= count; seq++)
        {
            var request = EchoRequest(hostMac, guestMac, seq, 56);
            wire.Send(request);
            var reply = await NextAsync(vm, wire, 0x0800, ct);
            if (Mismatch(request, reply) is { } bad) Assert.Fail($"ping {seq}: {bad}.\n{vm.Describe()}");
        }
    }

    private static async Task<byte[]> NextAsync(VmGuest vm, FrameChannel wire, ushort etherType, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var frame = await wire.ReceiveAsync(TimeSpan.FromSeconds(1), ct);
            // Announcements (RARP) and late frames of earlier traffic are not answers.
            if (frame is { Length: >= 14 } && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == etherType) return frame;
        }
        Assert.Fail($"no reply with ethertype 0x{etherType:x4} within 10 s.\n{vm.Describe()}");
        return [];
    }

    private static byte[] ArpRequest(byte[] hostMac)
    {
        var f = new byte[60];
        f.AsSpan(0, 6).Fill(0xFF);
        hostMac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 1);
        hostMac.CopyTo(f, 22);
        HostIp.CopyTo(f, 28);
        GuestIp.CopyTo(f, 38);
        return f;
    }

    private static byte[] EchoRequest(byte[] hostMac, byte[] guestMac, ushort seq, int payload)
    {
        var f = new byte[14 + 20 + 8 + payload];
        guestMac.CopyTo(f, 0);
        hostMac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], seq);
        ip[8] = 64;
        ip[9] = 1;
        HostIp.CopyTo(ip[12..]);
        GuestIp.CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip[..20]));
        var icmp = ip[20..];
        icmp[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], seq);
        for (int i = 0; i < payload; i++) icmp[8 + i] = (byte)(seq + i);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Compute(icmp));
        return f;
    }

    private static string? Mismatch(byte[] request, byte[] reply)
    {
        if (reply.Length != request.Length) return $"{reply.Length} bytes came back, {request.Length} were sent";
        if (!reply.AsSpan(0, 6).SequenceEqual(request.AsSpan(6, 6)) || !reply.AsSpan(6, 6).SequenceEqual(request.AsSpan(0, 6))) return "MAC addresses not swapped";
        if (!reply.AsSpan(26, 4).SequenceEqual(request.AsSpan(30, 4)) || !reply.AsSpan(30, 4).SequenceEqual(request.AsSpan(26, 4))) return "IP addresses not swapped";
        if (InternetChecksum.Compute(reply.AsSpan(14, 20)) != 0) return "bad IP header checksum";
        if (reply[34] != 0 || reply[35] != 0) return $"ICMP type {reply[34]} code {reply[35]}, not an echo reply";
        if (InternetChecksum.Compute(reply.AsSpan(34)) != 0) return "bad ICMP checksum";
        if (!reply.AsSpan(38).SequenceEqual(request.AsSpan(38))) return "identifier, sequence or payload changed";
        return null;
    }
}
