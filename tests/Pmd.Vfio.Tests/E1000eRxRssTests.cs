using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Vfio.Tests;

/// <summary>
/// The extended receive descriptor as the e1000e RX queue reads it: status and errors in the
/// second quadword's low dword, the length above them, and with RSS the MRQ type and hash of the
/// frame's last descriptor in the first quadword.
/// </summary>
public sealed class E1000eRxRssTests
{
    private const byte Done = 0x01, DoneEop = 0x03;

    private static Mbuf ReceiveOne(E1000eRig rig)
    {
        var mbufs = new Mbuf[1];
        Assert.Equal(1, rig.Rx.Burst(mbufs));
        return mbufs[0];
    }

    [Fact]
    public void The_length_and_status_are_read_where_an_extended_write_back_has_them()
    {
        using var rig = new E1000eRig(size: 32);
        var frame = Frames.BuildBytes(5, 300, E1000eRig.Host, E1000eRig.Guest);
        rig.Device.ReceiveRaw(frame, 300, DoneEop);
        var m = ReceiveOne(rig);
        Assert.Equal(300, m.PacketLength);
        Assert.Equal(5u, Frames.Verify(m));
        m.Free();
    }

    [Fact]
    public unsafe void A_legacy_layout_write_back_is_not_taken_for_a_done_descriptor()
    {
        using var rig = new E1000eRig(size: 32);
        // Byte 12, a legacy descriptor's status, is an extended one's length: DD and EOP there are not done.
        rig.Device.WriteBackRx(rig.Device.RxHead, length: DoneEop, status: 0, errors: 0);
        Assert.Equal(0, rig.Rx.Burst(new Mbuf[1]));
        rig.Device.WriteBackRx(rig.Device.RxHead, length: 0x103, status: DoneEop, errors: 0);
        var m = ReceiveOne(rig);
        Assert.Equal(0x103, m.PacketLength);
        m.Free();
    }

    [Theory]
    [InlineData(1u, true)]    // TCP/IPv4
    [InlineData(2u, true)]    // IPv4
    [InlineData(5u, true)]    // IPv6
    [InlineData(0u, false)]   // not hashed
    [InlineData(6u, false)]   // no such type: the hash field means nothing
    [InlineData(0xFu, false)]
    public void With_rss_the_hash_of_a_hashed_frame_goes_into_its_mbuf(uint type, bool hashed)
    {
        using var rig = new E1000eRig(size: 32, rss: true);
        var frame = Frames.BuildBytes(1, 100, E1000eRig.Host, E1000eRig.Guest);
        rig.Device.ReceiveRaw(frame, 100, DoneEop, mrq: type | 1u << 8, rss: 0xC0FFEE11);
        var m = ReceiveOne(rig);
        Assert.Equal(hashed, (m.Flags & OffloadFlags.RxRssHash) != 0);
        Assert.Equal(hashed ? 0xC0FFEE11u : 0u, m.RssHash);
        m.Free();
    }

    [Fact]
    public void Without_rss_configured_no_hash_is_reported_whatever_the_descriptor_says()
    {
        using var rig = new E1000eRig(size: 32);
        rig.Device.ReceiveRaw(Frames.BuildBytes(1, 100, E1000eRig.Host, E1000eRig.Guest), 100, DoneEop, mrq: 1, rss: 0x1234);
        var m = ReceiveOne(rig);
        Assert.Equal(OffloadFlags.None, m.Flags & OffloadFlags.RxRssHash);
        Assert.Equal(0u, m.RssHash);
        m.Free();
    }

    [Fact]
    public void A_chains_hash_is_its_last_descriptors_and_a_recycled_mbuf_keeps_none()
    {
        using var rig = new E1000eRig(size: 32, dataRoom: 256, poolSize: 40, maxFrame: 9018, rss: true);
        var frame = Frames.BuildBytes(2, 700, E1000eRig.Host, E1000eRig.Guest);
        for (int round = 0; round < 20; round++)
        {
            int head = rig.Device.RxHead;
            Assert.True(rig.Device.Receive(frame));   // 3 buffers; RSS is off in the model's registers: no hash written
            bool hashed = round % 2 == 0;
            // First descriptors carry a stale-looking MRQ that must be ignored; only the last one counts.
            rig.Device.WriteBackRx(head, 256, Done, 0, mrq: 1, rss: 0xBAD);
            rig.Device.WriteBackRx((head + 1) % 32, 256, Done, 0, mrq: 1, rss: 0xBAD);
            rig.Device.WriteBackRx((head + 2) % 32, 700 - 512, DoneEop, 0, mrq: hashed ? 2u : 0u, rss: hashed ? 0x600DF00Du : 0xBAD);
            var m = ReceiveOne(rig);
            Assert.Equal(3, m.SegmentCount);
            Assert.Equal(2u, Frames.Verify(m));
            Assert.Equal(hashed, (m.Flags & OffloadFlags.RxRssHash) != 0);
            Assert.Equal(hashed ? 0x600DF00Du : 0u, m.RssHash);
            m.Free();
        }
    }

    [Fact]
    public void Checksum_verdicts_and_the_hash_come_together()
    {
        using var rig = new E1000eRig(size: 32, rxChecksums: true, rss: true);
        var frame = TcpFrames.Bytes(false, 100, E1000eRig.Host, E1000eRig.Guest);
        // IPCS | TCPCS with TCPE: IP good, L4 bad, and the TCP/IPv4 hash.
        rig.Device.ReceiveRaw(frame, (ushort)frame.Length, DoneEop | 1 << 6 | 1 << 5, errors: 1 << 5, mrq: 1, rss: 77);
        var m = ReceiveOne(rig);
        Assert.Equal(OffloadFlags.RxIpChecksumGood | OffloadFlags.RxL4ChecksumBad | OffloadFlags.RxRssHash, m.Flags);
        Assert.Equal(77u, m.RssHash);
        m.Free();
    }
}
