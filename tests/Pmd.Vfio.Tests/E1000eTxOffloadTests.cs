using System.Buffers.Binary;
using Pmd.Memory;
using Pmd.TestSupport;
using Pmd.TestSupport.E1000e;

namespace Pmd.Vfio.Tests;

/// <summary>
/// The e1000e TX queue's checksum and TSO offloads against the descriptor model: the context
/// descriptor's bytes as the datasheet lays them out, the extended data descriptors after it, the
/// pseudo-header sums the driver leaves in the frame, and what an 82574 makes of it all (<see cref="E1000eOffloadModel"/>).
/// </summary>
public sealed class E1000eTxOffloadTests
{
    private const OffloadFlags TcpIpv4 = OffloadFlags.TxTcpChecksum | OffloadFlags.TxIpChecksum;

    private static byte[] TcpBytes(int payload, int streamOffset = 0, bool ipv6 = false)
    {
        var bytes = TcpFrames.Bytes(ipv6, payload, E1000eRig.Guest, E1000eRig.Host, streamOffset);
        if (!ipv6) BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(TcpFrames.EthernetLength + 10), 0xBEEF);   // wrong: the device must redo it
        return bytes;
    }

    private static List<E1000eDeviceModel.TxFrame> TransmitAll(E1000eRig rig)
    {
        var frames = new List<E1000eDeviceModel.TxFrame>();
        rig.Device.TransmitFrames(frames.Add);
        rig.Tx.Cleanup();
        return frames;
    }

    [Fact]
    public void A_tcp_ipv4_checksum_request_takes_a_context_descriptor_then_an_extended_data_descriptor()
    {
        using var rig = new E1000eRig(size: 32);
        var m = TcpFrames.Build(rig.Pool, TcpBytes(200), ipv6: false, TcpIpv4);
        Assert.Equal(1, rig.Tx.Burst(new[] { m }));
        Assert.Equal(2, rig.Device.TxQueued);
        // IPCSS 14, IPCSO 24, IPCSE 33; TUCSS 34, TUCSO 50, TUCSE 0; PAYLEN 0, DTYP 0 (context),
        // TUCMD TCP | IP | DEXT; status 0, HDRLEN 0, MSS 0.
        Assert.Equal(new byte[] { 14, 24, 33, 0, 34, 50, 0, 0, 0, 0, 0, 0x23, 0, 0, 0, 0 }, rig.Device.TxDescriptorBytes(0));
        var data = rig.Device.TxDescriptorBytes(1);
        Assert.Equal(254, BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(8)) & 0xF_FFFF);
        Assert.Equal(0x10, data[10] & 0xF0);   // DTYP 0001: data
        Assert.Equal(0x2B, data[11]);          // DEXT | RS | IFCS | EOP
        Assert.Equal(0x03, data[13]);          // POPTS: TXSM | IXSM
        var sent = Assert.Single(TransmitAll(rig));
        // The driver left the pseudo-header sum with the L4 length in the TCP field and zero in the IPv4 one.
        Assert.Equal(TcpFrames.PseudoHeaderSum(sent.Bytes, ipv6: false), BinaryPrimitives.ReadUInt16BigEndian(sent.Bytes.AsSpan(50)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(sent.Bytes.AsSpan(24)));
        var segment = TcpFrames.Check(Assert.Single(E1000eOffloadModel.Apply(sent)), ipv6: false);
        Assert.Equal(200, segment.PayloadLength);
    }

    [Fact]
    public void Tso_puts_paylen_hdrlen_and_mss_in_the_context_and_the_device_cuts_segments_with_good_checksums()
    {
        using var rig = new E1000eRig(size: 32, dataRoom: 512);
        var m = TcpFrames.Build(rig.Pool, TcpBytes(1400), ipv6: false, OffloadFlags.TxTcpSegmentation | OffloadFlags.TxIpChecksum, mss: 500);
        Assert.Equal(3, m.SegmentCount);
        Assert.Equal(1, rig.Tx.Burst(new[] { m }));
        Assert.Equal(4, rig.Device.TxQueued);   // the context and three buffers
        // PAYLEN 1400 (0x578), TUCMD TCP | IP | TSE | DEXT, HDRLEN 54, MSS 500 (0x1F4).
        Assert.Equal(new byte[] { 14, 24, 33, 0, 34, 50, 0, 0, 0x78, 0x05, 0x00, 0x27, 0, 54, 0xF4, 0x01 }, rig.Device.TxDescriptorBytes(0));
        for (int slot = 1; slot <= 3; slot++)
        {
            var d = rig.Device.TxDescriptorBytes(slot);
            Assert.Equal(slot == 3 ? 0x2F : 0x26, d[11]);   // DEXT | TSE | IFCS, and RS | EOP on the last
            Assert.Equal(0x03, d[13]);
        }
        var sent = Assert.Single(TransmitAll(rig));
        Assert.Equal(1454, sent.Bytes.Length);
        // For TSO the pseudo-header sum goes in without a length: the device adds each segment's.
        ushort expected = (ushort)~InternetChecksum.Compute([.. sent.Bytes.AsSpan(26, 8), 0, 6, 0, 0]);
        Assert.Equal(expected, BinaryPrimitives.ReadUInt16BigEndian(sent.Bytes.AsSpan(50)));
        var segments = E1000eOffloadModel.Apply(sent).Select(s => TcpFrames.Check(s, ipv6: false)).ToList();
        Assert.Equal([(0, 500), (500, 500), (1000, 400)], segments.Select(s => (s.StreamOffset, s.PayloadLength)));
        Assert.Equal([(byte)TcpFrames.FlagAck, TcpFrames.FlagAck, TcpFrames.FlagAck | TcpFrames.FlagPsh], segments.Select(s => s.TcpFlags));
        Assert.Equal([(ushort)1, 2, 3], segments.Select(s => s.IpId));
    }

    [Fact]
    public void A_context_equal_to_the_last_one_sent_is_not_sent_again_and_its_slot_is_freed_with_its_packet()
    {
        using var rig = new E1000eRig(size: 32);
        Span<Mbuf> burst =
        [
            TcpFrames.Build(rig.Pool, TcpBytes(100), false, TcpIpv4),        // context 1, data
            TcpFrames.Build(rig.Pool, TcpBytes(300), false, TcpIpv4),        // data (same offsets, PAYLEN 0)
            Frames.Build(rig.Pool, 9, 80, E1000eRig.Guest, E1000eRig.Host),  // legacy: leaves the context alone
            TcpFrames.Build(rig.Pool, TcpBytes(700), false, TcpIpv4),        // data
            TcpFrames.Build(rig.Pool, TcpBytes(1400), false, OffloadFlags.TxTcpSegmentation, mss: 600),   // context 2, data
            TcpFrames.Build(rig.Pool, TcpBytes(50), false, TcpIpv4),         // context 3, data
        ];
        Assert.Equal(6, rig.Tx.Burst(burst));
        Assert.Equal(9, rig.Device.TxQueued);
        Assert.Equal(9, rig.Tx.InFlight);
        var sent = TransmitAll(rig);
        Assert.Equal(3, rig.Device.TxContexts);
        Assert.Equal(0, rig.Tx.InFlight);
        Assert.False(sent[2].Extended);
        var checkedFrames = sent.Where(f => f.Extended).SelectMany(E1000eOffloadModel.Apply).Select(f => TcpFrames.Check(f, ipv6: false).PayloadLength);
        Assert.Equal([100, 300, 700, 600, 600, 200, 50], checkedFrames);
        // Still the same context on the device: the next packet like it takes one slot.
        Assert.Equal(1, rig.Tx.Burst(new[] { TcpFrames.Build(rig.Pool, TcpBytes(60), false, TcpIpv4) }));
        Assert.Equal(1, rig.Device.TxQueued);
    }

    [Fact]
    public void A_packet_whose_context_and_data_do_not_fit_waits_and_the_ring_wraps_with_every_mbuf_back()
    {
        using var rig = new E1000eRig(size: 32, dataRoom: 512, poolSize: 2048);
        var rng = new Random(5);
        int sent = 0, queued = 0;
        var expected = new List<int>();
        var got = new List<int>();
        for (int round = 0; round < 300; round++)
        {
            var burst = new Mbuf[rng.Next(1, 8)];
            for (int i = 0; i < burst.Length; i++)
            {
                int kind = rng.Next(4), payload = 40 + rng.Next(1400);
                burst[i] = kind switch
                {
                    0 => Frames.Build(rig.Pool, (uint)i, 60 + payload, E1000eRig.Guest, E1000eRig.Host),
                    1 => TcpFrames.Build(rig.Pool, TcpBytes(payload), false, TcpIpv4),
                    2 => TcpFrames.Build(rig.Pool, TcpFrames.Bytes(true, payload, E1000eRig.Guest, E1000eRig.Host), true, OffloadFlags.TxTcpChecksum),
                    _ => TcpFrames.Build(rig.Pool, TcpBytes(payload), false, OffloadFlags.TxTcpSegmentation, mss: 300),
                };
            }
            int accepted = rig.Tx.Burst(burst);
            for (int i = 0; i < accepted; i++) expected.Add(burst[i].PacketLength);
            Mbuf.Free(burst.AsSpan(accepted));
            queued += accepted;
            if (rng.Next(3) == 0) continue;   // let the ring fill up now and then
            sent += rig.Device.TransmitFrames(f =>
            {
                got.Add(f.Bytes.Length);
                foreach (var s in E1000eOffloadModel.Apply(f))
                    if (f.Extended) TcpFrames.Check(s, ipv6: s[12] == 0x86);
            });
        }
        sent += rig.Device.TransmitFrames(f => got.Add(f.Bytes.Length));
        rig.Tx.Cleanup();
        Assert.Equal(queued, sent);
        Assert.Equal(expected, got);
        Assert.Equal(0, rig.Tx.InFlight);
        Assert.Equal((ulong)queued, rig.Tx.Stats.Packets);
        Assert.Equal(0UL, rig.Tx.Stats.Errors);
    }

    [Fact]
    public void Requests_that_cannot_be_honored_are_taken_dropped_and_counted_and_tell_the_device_nothing()
    {
        using var rig = new E1000eRig(size: 64);
        var noVersion = TcpFrames.Build(rig.Pool, TcpBytes(100), false, TcpIpv4);
        noVersion.Flags &= ~OffloadFlags.TxIpv4;
        var shortIp = TcpFrames.Build(rig.Pool, TcpBytes(100), false, TcpIpv4);
        shortIp.L3Length = 12;
        var tsoNoMss = TcpFrames.Build(rig.Pool, TcpBytes(1400), false, OffloadFlags.TxTcpSegmentation, mss: 0);
        var tsoHugeMss = TcpFrames.Build(rig.Pool, TcpBytes(1400), false, OffloadFlags.TxTcpSegmentation, mss: 9000);
        var sctp = TcpFrames.Build(rig.Pool, TcpBytes(100), false, (OffloadFlags)(2UL << 52));
        var headersPastTheFrame = TcpFrames.Build(rig.Pool, TcpBytes(10), false, TcpIpv4);
        headersPastTheFrame.L2Length = 100;
        var offsetsPastAByte = TcpFrames.Build(rig.Pool, TcpFrames.Bytes(true, 400, E1000eRig.Guest, E1000eRig.Host), true, OffloadFlags.TxTcpChecksum);
        offsetsPastAByte.L3Length = 240;   // IPv6 with extension headers: TUCSO would be 270, a context holds a byte
        // An IPv4 flag on an IPv6 header, in a frame too short for IPv6's addresses.
        var wrongVersionBytes = TcpBytes(0)[..(TcpFrames.EthernetLength + TcpFrames.Ipv4Length + 18)];
        wrongVersionBytes[TcpFrames.EthernetLength] = 0x65;
        var wrongVersion = TcpFrames.Build(rig.Pool, wrongVersionBytes, false, TcpIpv4);
        var fine = TcpFrames.Build(rig.Pool, TcpBytes(100), false, TcpIpv4);
        Span<Mbuf> burst = [noVersion, shortIp, tsoNoMss, tsoHugeMss, sctp, headersPastTheFrame, offsetsPastAByte, wrongVersion, fine];
        Assert.Equal(burst.Length, rig.Tx.Burst(burst));
        Assert.Equal((ulong)burst.Length - 1, rig.Tx.Stats.Errors);
        Assert.Equal(1UL, rig.Tx.Stats.Packets);
        Assert.Equal(2, rig.Device.TxQueued);
        var sent = Assert.Single(TransmitAll(rig));
        TcpFrames.Check(Assert.Single(E1000eOffloadModel.Apply(sent)), ipv6: false);
    }

    [Fact]
    public void Ipv6_tso_is_cut_in_software_into_plain_segments_each_checked()
    {
        // QEMU 7.2 would cut it by IPv4 fragmentation: the driver does TCP segmentation itself.
        using var rig = new E1000eRig(size: 64);
        var frame = TcpFrames.Build(rig.Pool, TcpFrames.Bytes(true, 1400, E1000eRig.Guest, E1000eRig.Host), true, OffloadFlags.TxTcpSegmentation, mss: 500);
        int inUse = rig.Pool.InUse;
        Assert.Equal(1, rig.Tx.Burst([frame]));
        Assert.Equal(0UL, rig.Tx.Stats.Errors);
        Assert.Equal(1UL, rig.Tx.Stats.SoftwareTso);
        Assert.Equal(3UL, rig.Tx.Stats.Packets);
        var sent = TransmitAll(rig);
        Assert.Equal(3, sent.Count);
        int offset = 0;
        foreach (var frame6 in sent)
        {
            Assert.False(frame6.Extended, "a software segment asked the device for an offload");
            var s = TcpFrames.Check(frame6.Bytes, ipv6: true);
            Assert.Equal(offset, s.StreamOffset);
            offset += s.PayloadLength;
        }
        Assert.Equal(1400, offset);
        Assert.True(rig.Pool.InUse < inUse, "the frame and its segments did not all go back to the pool");
    }

    [Fact]
    public void A_packet_that_fills_the_ring_alone_is_sent_plain_but_dropped_when_it_also_needs_a_context()
    {
        using var rig = new E1000eRig(size: 32, dataRoom: 256, poolSize: 256);
        var bytes = TcpBytes(31 * 256 - TcpFrames.HeaderLength(false));
        var plain = TcpFrames.Build(rig.Pool, bytes, false);
        plain.Flags = 0;
        Assert.Equal(31, plain.SegmentCount);
        Assert.Equal(1, rig.Tx.Burst(new[] { plain }));
        Assert.Equal(31, rig.Device.TxQueued);
        Assert.Equal(1, rig.Device.Transmit());
        rig.Tx.Cleanup();
        // 31 data descriptors and a context: more than a 32-slot ring ever has free. Never sendable, so not retried forever.
        Assert.Equal(1, rig.Tx.Burst(new[] { TcpFrames.Build(rig.Pool, bytes, false, TcpIpv4) }));
        Assert.Equal(1UL, rig.Tx.Stats.Errors);
        Assert.Equal(0, rig.Device.TxQueued);
    }

    [Fact]
    public void Udp_ipv6_and_ip_only_requests_fill_the_context_for_what_they_ask()
    {
        using var rig = new E1000eRig(size: 32);
        // An IPv6 TCP checksum: IPCSS 14, no IPCSO/IPCSE, TUCSS 54, TUCSO 70, TUCMD TCP | DEXT; TXSM only.
        Assert.Equal(1, rig.Tx.Burst(new[] { TcpFrames.Build(rig.Pool, TcpFrames.Bytes(true, 100, E1000eRig.Guest, E1000eRig.Host), true, OffloadFlags.TxTcpChecksum | OffloadFlags.TxIpChecksum) }));
        Assert.Equal(new byte[] { 14, 0, 0, 0, 54, 70, 0, 0, 0, 0, 0, 0x21, 0, 0, 0, 0 }, rig.Device.TxDescriptorBytes(0));
        Assert.Equal(0x02, rig.Device.TxDescriptorBytes(1)[13]);
        // The IPv4 header checksum alone: TUCMD IP | DEXT, IXSM only.
        var ipOnly = TcpFrames.Build(rig.Pool, TcpBytes(100), false, OffloadFlags.TxIpChecksum);
        Assert.Equal(1, rig.Tx.Burst(new[] { ipOnly }));
        Assert.Equal(new byte[] { 14, 24, 33, 0, 0, 0, 0, 0, 0, 0, 0, 0x22, 0, 0, 0, 0 }, rig.Device.TxDescriptorBytes(2));
        Assert.Equal(0x01, rig.Device.TxDescriptorBytes(3)[13]);
        // A UDP checksum: TUCSO at 6 into the header, TUCMD without TCP.
        var udp = TcpFrames.Build(rig.Pool, TcpBytes(100), false, OffloadFlags.TxUdpChecksum);
        Assert.Equal(1, rig.Tx.Burst(new[] { udp }));
        Assert.Equal(new byte[] { 14, 24, 33, 0, 34, 40, 0, 0, 0, 0, 0, 0x22, 0, 0, 0, 0 }, rig.Device.TxDescriptorBytes(4));
        // An IPv6 frame asking for the IP checksum only asks nothing: a legacy descriptor.
        var nothing = TcpFrames.Build(rig.Pool, TcpFrames.Bytes(true, 100, E1000eRig.Guest, E1000eRig.Host), true, OffloadFlags.TxIpChecksum);
        Assert.Equal(1, rig.Tx.Burst(new[] { nothing }));
        Assert.Equal(0x0B, rig.Device.TxDescriptorBytes(6)[11]);
        var sent = TransmitAll(rig);
        Assert.Equal(4, sent.Count);
        TcpFrames.Check(Assert.Single(E1000eOffloadModel.Apply(sent[0])), ipv6: true);
        Assert.Equal(0, InternetChecksum.Compute(Assert.Single(E1000eOffloadModel.Apply(sent[1])).AsSpan(TcpFrames.EthernetLength, TcpFrames.Ipv4Length)));
    }
}
