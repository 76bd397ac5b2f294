using System.Buffers.Binary;
using Pmd.Ethdev;
using Pmd.TestPmd.Forwarding;
using Pmd.TestSupport;

namespace TestPmd.Tests;

/// <summary>icmpecho's replies, byte for byte, with checksums recomputed from scratch.</summary>
public sealed class IcmpEchoTests
{
    private static readonly MacAddress Ours = MacAddress.Parse("52:54:00:12:34:56");
    private static readonly byte[] Asker = [0x02, 0, 0, 0, 0, 0x01];

    private static byte[] EchoRequest(int payload, ushort id = 0x1234, ushort seq = 7)
    {
        var f = new byte[14 + 20 + 8 + payload];
        Ours.CopyTo(f);
        Asker.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload));
        ip[8] = 64;
        ip[9] = 1;
        new byte[] { 10, 0, 0, 1 }.CopyTo(ip[12..]);
        new byte[] { 10, 0, 0, 2 }.CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip[..20]));
        var icmp = ip[20..];
        icmp[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], seq);
        for (int i = 0; i < payload; i++) icmp[8 + i] = (byte)(i * 3);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Compute(icmp));
        return f;
    }

    [Theory]
    [InlineData(56)]
    [InlineData(0)]
    [InlineData(1473)]
    public void An_echo_request_becomes_a_reply_with_valid_checksums(int payload)
    {
        var f = EchoRequest(payload);
        var original = (byte[])f.Clone();
        Assert.True(IcmpEchoEngine.Answer(f, Ours));
        Assert.Equal(Asker, f[..6]);
        Assert.Equal(Ours, new MacAddress(f.AsSpan(6, 6)));
        Assert.Equal(new byte[] { 10, 0, 0, 2 }, f[26..30]);
        Assert.Equal(new byte[] { 10, 0, 0, 1 }, f[30..34]);
        Assert.Equal(0, InternetChecksum.Compute(f.AsSpan(14, 20)));                      // IP header checksum still right
        Assert.Equal(0, f[34]);                                            // echo reply
        Assert.Equal(0, InternetChecksum.Compute(f.AsSpan(34)));                           // ICMP checksum right
        Assert.Equal(original[38..], f[38..]);                             // id, sequence and payload untouched
    }

    [Fact]
    public void An_arp_request_for_any_address_is_answered_from_our_mac()
    {
        var f = new byte[60];
        MacAddress.Broadcast.CopyTo(f);
        Asker.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        var arp = f.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], 0x0800);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], 1);
        Asker.CopyTo(arp[8..]);
        new byte[] { 192, 0, 2, 1 }.CopyTo(arp[14..]);
        new byte[] { 192, 0, 2, 77 }.CopyTo(arp[24..]);
        Assert.True(IcmpEchoEngine.Answer(f, Ours));
        Assert.Equal(Asker, f[..6]);
        Assert.Equal(Ours, new MacAddress(f.AsSpan(6, 6)));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(arp[6..]));
        Assert.Equal(Ours, new MacAddress(arp.Slice(8, 6)));
        Assert.Equal(new byte[] { 192, 0, 2, 77 }, arp.Slice(14, 4).ToArray());
        Assert.Equal(Asker, arp.Slice(18, 6).ToArray());
        Assert.Equal(new byte[] { 192, 0, 2, 1 }, arp.Slice(24, 4).ToArray());
    }

    [Fact]
    public void Other_frames_truncated_requests_replies_and_fragments_are_not_answered()
    {
        var udp = EchoRequest(10);
        udp[14 + 9] = 17;
        Assert.False(IcmpEchoEngine.Answer(udp, Ours));
        Assert.False(IcmpEchoEngine.Answer(EchoRequest(56).AsSpan(0, 40).ToArray(), Ours));
        var reply = EchoRequest(10);
        reply[34] = 0;
        Assert.False(IcmpEchoEngine.Answer(reply, Ours));
        var fragment = EchoRequest(10);
        fragment[14 + 6] = 0x20;   // more fragments
        Assert.False(IcmpEchoEngine.Answer(fragment, Ours));
        Assert.False(IcmpEchoEngine.Answer(new byte[10], Ours));
        var rarp = new byte[60];
        BinaryPrimitives.WriteUInt16BigEndian(rarp.AsSpan(12), 0x8035);
        Assert.False(IcmpEchoEngine.Answer(rarp, Ours));
    }
}
