using System.Buffers.Binary;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.Net;
using Pmd.TestSupport;

namespace Pmd.Abstractions.Tests;

/// <summary>The software checksums and TSO, held against checksums computed from scratch, byte by byte.</summary>
public sealed class SoftwareOffloadTests : IDisposable
{
    private static readonly MacAddress Source = MacAddress.Parse("02:00:00:00:00:01"), Destination = MacAddress.Parse("02:00:00:00:00:02");
    private readonly Mempool _pool = Mempool.Create($"swoff{Environment.CurrentManagedThreadId}-{Guid.NewGuid():N}"[..20], 4096);

    public void Dispose()
    {
        Assert.Equal(0, _pool.InUse);
        _pool.Dispose();
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(false, 1)]
    [InlineData(false, 1459)]
    [InlineData(false, 5001)] // chained, with odd segment boundaries
    [InlineData(true, 7)]
    [InlineData(true, 9000)]
    public void Tx_checksums_done_in_software_match_ones_computed_from_scratch(bool ipv6, int payload)
    {
        var bytes = TcpFrames.Bytes(ipv6, payload, Source, Destination);
        if (!ipv6) { bytes[24] = 0xBE; bytes[25] = 0xEF; } // a stale IPv4 checksum the offload must replace
        var m = TcpFrames.Build(_pool, bytes, ipv6, OffloadFlags.TxTcpChecksum | (ipv6 ? 0 : OffloadFlags.TxIpChecksum));
        Assert.True(Checksums.CompleteTx(m));
        Assert.Equal(OffloadFlags.None, m.Flags & OffloadFlags.TxOffloadMask);
        var sent = new byte[m.PacketLength];
        m.CopyTo(sent);
        m.Free();
        var segment = TcpFrames.Check(sent, ipv6);
        Assert.Equal(payload, segment.PayloadLength);
    }

    [Fact]
    public void Headers_that_do_not_fit_the_first_segment_are_refused_untouched()
    {
        var bytes = TcpFrames.Bytes(false, 100, Source, Destination);
        var m = TcpFrames.Build(_pool, bytes, false, OffloadFlags.TxTcpChecksum);
        m.L3Length = 200;
        Assert.False(Checksums.CompleteTx(m));
        m.L3Length = 20;
        m.Flags = OffloadFlags.TxTcpChecksum; // neither IPv4 nor IPv6
        Assert.False(Checksums.CompleteTx(m));
        var after = new byte[m.PacketLength];
        m.CopyTo(after);
        Assert.Equal(bytes, after);
        m.Free();

        // An IPv4 flag on a header whose version says 6, in a frame too short for IPv6's addresses.
        var lying = TcpFrames.Bytes(false, 0, Source, Destination)[..(14 + 20 + 18)];
        lying[14] = 0x65;
        var v = TcpFrames.Build(_pool, lying, false, OffloadFlags.TxTcpChecksum);
        Assert.False(Checksums.CompleteTx(v));
        Assert.Equal(0, TcpSegmentation.SegmentsFor(v));
        v.Free();
    }

    [Theory]
    [InlineData(false, 65536 - 54 - 1, 1448)]
    [InlineData(false, 3000, 1000)]
    [InlineData(true, 20000, 1440)]
    [InlineData(false, 500, 1448)] // smaller than one segment
    public void Tso_in_software_cuts_every_byte_into_checked_segments(bool ipv6, int payload, int mss)
    {
        var bytes = TcpFrames.Bytes(ipv6, payload, Source, Destination, ipId: 100);
        var m = TcpFrames.Build(_pool, bytes, ipv6, OffloadFlags.TxTcpSegmentation, mss);
        var segments = new Mbuf[128];
        int n = TcpSegmentation.Segment(m, _pool, segments);
        m.Free();
        Assert.Equal((payload + mss - 1) / mss, n);
        int expectedOffset = 0;
        for (int i = 0; i < n; i++)
        {
            var s = segments[i];
            Assert.Equal(1, s.SegmentCount);
            var frame = s.Data.ToArray();
            var seg = TcpFrames.Check(frame, ipv6);
            Assert.Equal(expectedOffset, seg.StreamOffset);
            Assert.Equal(Math.Min(mss, payload - expectedOffset), seg.PayloadLength);
            Assert.Equal(i == n - 1 ? TcpFrames.FlagAck | TcpFrames.FlagPsh : TcpFrames.FlagAck, seg.TcpFlags);
            if (!ipv6) Assert.Equal(100 + i, seg.IpId);
            Assert.Equal(OffloadFlags.None, s.Flags & OffloadFlags.TxOffloadMask);
            expectedOffset += seg.PayloadLength;
            s.Free();
        }
        Assert.Equal(payload, expectedOffset);
    }

    [Fact]
    public void Tso_that_would_not_fit_the_span_allocates_nothing()
    {
        var m = TcpFrames.Build(_pool, TcpFrames.Bytes(false, 10000, Source, Destination), false, OffloadFlags.TxTcpSegmentation, 100);
        int inUse = _pool.InUse;
        Assert.Equal(-1, TcpSegmentation.Segment(m, _pool, new Mbuf[50]));
        Assert.Equal(inUse, _pool.InUse);
        m.Free();
    }

    [Fact]
    public void Rx_verification_tells_good_from_bad_checksums()
    {
        var good = TcpFrames.Bytes(false, 300, Source, Destination, tcpChecksum: true);
        var badL4 = (byte[])good.Clone();
        badL4[^1] ^= 0xFF;
        var badIp = (byte[])good.Clone();
        badIp[22] ^= 1; // TTL
        var v6 = TcpFrames.Bytes(true, 300, Source, Destination, tcpChecksum: true);
        Assert.Equal(OffloadFlags.RxIpChecksumGood | OffloadFlags.RxL4ChecksumGood, Verdict(good));
        Assert.Equal(OffloadFlags.RxIpChecksumGood | OffloadFlags.RxL4ChecksumBad, Verdict(badL4));
        Assert.Equal(OffloadFlags.RxIpChecksumBad, Verdict(badIp) & OffloadFlags.RxIpChecksumMask);
        Assert.Equal(OffloadFlags.RxL4ChecksumGood, Verdict(v6));
        var notIp = TcpFrames.Bytes(false, 300, Source, Destination, tcpChecksum: true);
        BinaryPrimitives.WriteUInt16BigEndian(notIp.AsSpan(12), 0x88B5);
        Assert.Equal(OffloadFlags.None, Verdict(notIp));
    }

    private OffloadFlags Verdict(byte[] frame)
    {
        var m = _pool.Alloc();
        frame.CopyTo(m.Append(frame.Length));
        Checksums.VerifyRx(m);
        var flags = m.Flags;
        m.Free();
        return flags;
    }
}
