using System.Buffers.Binary;
using Pmd.Memory;
using Pmd.TestSupport;
using Pmd.TestSupport.E1000e;
using Pmd.Vfio.Nics.E1000e;
using static Pmd.Vfio.Nics.E1000e.E1000eRegisters;

namespace Pmd.Vfio.Tests;

/// <summary>
/// A start's register programming for one and two queue pairs (E1000eQueueSet over the device
/// model's register file), and two queues end to end: the model spreads frames as QEMU's RSS does,
/// from the registers the driver wrote, and both rings stay filled.
/// </summary>
public sealed class E1000eQueueSetTests
{
    private const int Size = 64;
    private const uint TarcOtherBits = 0x0000_0003 | 1u << 28;   // reset values and a bit the driver must not touch

    private sealed class Setup : IDisposable
    {
        public Setup(int queues, uint checksums = 0)
        {
            Device.Write(Tarc0, TarcOtherBits);
            Device.Write(OfQueue(Tarc0, 1), TarcOtherBits);
            Pool = Mempool.Create($"e1000e-qs-{Guid.NewGuid():N}"[..24], 1024, cacheSize: 0, bufferSize: 2048 + Mempool.DefaultHeadroom);
            var (bufferSize, bits) = E1000eRxBufferSize.For(2048);
            Layout = new E1000eQueueSet.Layout(queues, queues, Size, Size, bufferSize, bits, 1522, PortId: 3, RxChecksums: checksums);
            Arena = new DmaArena("e1000e-qs-rings", E1000eQueueSet.ArenaBytes(Layout));
            Mac = new E1000eController(Device.Registers, "test");
            Queues = E1000eQueueSet.Start(Mac, Arena, Pool, Layout, jumbo: false, promiscuous: false, allMulticast: false);
            Device.AttachFromRegisters(bufferSize);
        }

        public E1000eDeviceModel Device { get; } = new();
        public Mempool Pool { get; }
        public DmaArena Arena { get; }
        public E1000eController Mac { get; }
        public E1000eQueueSet.Layout Layout { get; }
        public E1000eQueueSet Queues { get; }

        public uint Read(uint register) => Device.Read(register);

        public void Dispose()
        {
            foreach (var q in Queues.Rx) q.Drain();
            foreach (var q in Queues.Tx) q.Drain();
            int inUse = Pool.InUse;
            Arena.Dispose();
            Device.Dispose();
            Pool.Dispose();
            Assert.Equal(0, inUse);   // every mbuf back, both queues' included
        }
    }

    [Fact]
    public void Two_queues_program_rss_extended_descriptors_and_both_rings()
    {
        using var s = new Setup(queues: 2, checksums: RxcsumBits.IpOffload | RxcsumBits.L4Offload);
        Assert.Equal(RfctlAckDisable | RfctlExtendedDescriptors, s.Read(Rfctl));
        Assert.Equal(RxcsumBits.IpOffload | RxcsumBits.L4Offload | RxcsumBits.PacketChecksumDisable, s.Read(Rxcsum));
        Assert.Equal(0x001F_0001u, s.Read(Mrqc));
        for (int i = 0; i < RssKeyWords; i++)
            Assert.Equal(BinaryPrimitives.ReadUInt32LittleEndian(Toeplitz.DefaultKey.AsSpan(4 * i)), s.Read(Rssrk + 4 * (uint)i));
        for (int i = 0; i < RetaWords; i++) Assert.Equal(0x8000_8000u, s.Read(Reta + 4 * (uint)i));
        // TARC: the enable bit added, the device's other bits kept.
        Assert.Equal(TarcOtherBits | TarcEnable, s.Read(Tarc0));
        Assert.Equal(TarcOtherBits | TarcEnable, s.Read(OfQueue(Tarc0, 1)));
        for (int q = 0; q < 2; q++)
        {
            Assert.Equal((uint)(Size * 16), s.Read(OfQueue(Rdlen, q)));
            Assert.Equal((uint)(Size * 16), s.Read(OfQueue(Tdlen, q)));
            Assert.Equal(TxdctlRequired, s.Read(OfQueue(Txdctl, q)));
            Assert.Equal((uint)(Size - 1), s.Read(OfQueue(Rdt, q)));   // filled: every slot but one lent
            Assert.Equal(Size - 1, s.Queues.Rx[q].LentCount);
        }
        Assert.NotEqual(s.Read(Rdbal), s.Read(OfQueue(Rdbal, 1)));
        Assert.NotEqual(s.Read(Tdbal), s.Read(OfQueue(Tdbal, 1)));
        Assert.NotEqual(0u, s.Read(Rctl) & RctlBits.Enable);
    }

    [Fact]
    public void One_queue_keeps_rss_off_with_extended_descriptors()
    {
        using var s = new Setup(queues: 1);
        Assert.Equal(RfctlAckDisable | RfctlExtendedDescriptors, s.Read(Rfctl));
        Assert.Equal(0u, s.Read(Rxcsum));
        Assert.Equal(0u, s.Read(Mrqc));
        Assert.Equal(0u, s.Read(OfQueue(Rdlen, 1)));
        Assert.Equal(TarcOtherBits, s.Read(OfQueue(Tarc0, 1)));   // queue 1 untouched
        Assert.Single(s.Queues.Rx);
        Assert.Single(s.Queues.Tx);
        var frame = Flow(1, tcp: true);
        Assert.True(s.Device.Receive(frame));
        var mbufs = new Mbuf[1];
        Assert.Equal(1, s.Queues.Rx[0].Burst(mbufs));
        Assert.Equal(OffloadFlags.None, mbufs[0].Flags & OffloadFlags.RxRssHash);
        mbufs[0].Free();
    }

    /// <summary>A TCP or UDP frame over IPv4 of flow <paramref name="i"/>: addresses and ports varied.</summary>
    private static byte[] Flow(int i, bool tcp)
    {
        var f = TcpFrames.Bytes(false, 40 + i % 300, E1000eRig.Host, E1000eRig.Guest);
        uint h = (uint)i * 2654435761u;
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14 + 12), 0x0A00_0000 | h >> 8);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14 + 16), 0xC0A8_0000 | (uint)i);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), (ushort)(h >> 16));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), (ushort)(i * 7));
        if (!tcp) f[14 + 9] = 17;
        return f;
    }

    [Fact]
    public void Frames_land_on_the_queue_the_toeplitz_hash_picks_with_their_hash_and_both_rings_stay_filled()
    {
        using var s = new Setup(queues: 2);
        int[] received = new int[2], expected = new int[2];
        var mbufs = new Mbuf[32];
        const int Frames = 20 * Size;   // each ring goes round many times
        var key = Toeplitz.DefaultKey;
        for (int i = 0; i < Frames; i++)
        {
            bool ip = i % 5 != 4;
            var frame = ip ? Flow(i, tcp: i % 3 != 0) : Pmd.TestSupport.Frames.BuildBytes((uint)i, 80, E1000eRig.Host, E1000eRig.Guest);
            var (type, hash) = E1000eRssModel.Of(frame, 0x001F_0000, key);
            // The driver's table alternates: the hash's low bit is the queue; non-IP frames are not hashed, queue 0.
            int queue = ip ? (int)(hash & 1) : 0;
            Assert.Equal(ip ? (frame[23] == 6 ? 1u : 2u) : 0u, type);
            expected[queue]++;
            Assert.True(s.Device.Receive(frame), $"frame {i} found no descriptor on queue {queue}");
            Assert.Equal(1, s.Queues.Rx[queue].Burst(mbufs));
            var m = mbufs[0];
            Assert.Equal(frame, m.Data.ToArray());
            Assert.Equal(ip, (m.Flags & OffloadFlags.RxRssHash) != 0);
            Assert.Equal(ip ? hash : 0u, m.RssHash);
            Assert.Equal(0, s.Queues.Rx[1 - queue].Burst(mbufs));
            received[queue]++;
            m.Free();
        }
        Assert.Equal(expected, received);
        Assert.InRange(received[1], Frames * 3 / 10, Frames * 6 / 10);
        Assert.Equal(0, s.Device.RxMissed);
        for (int q = 0; q < 2; q++) Assert.True(s.Queues.Rx[q].LentCount >= Size - 1 - E1000eRxQueue.RefillThreshold);
    }

    [Fact]
    public void Each_tx_queue_keeps_its_own_offload_context()
    {
        using var s = new Setup(queues: 2);
        const OffloadFlags Csum = OffloadFlags.TxTcpChecksum | OffloadFlags.TxIpChecksum;
        for (int round = 0; round < 3; round++)
        {
            for (int q = 0; q < 2; q++)
            {
                var m = TcpFrames.Build(s.Pool, TcpFrames.Bytes(false, 100, E1000eRig.Guest, E1000eRig.Host), ipv6: false, Csum);
                Assert.Equal(1, s.Queues.Tx[q].Burst(new[] { m }));
                Assert.Equal(1, s.Device.Transmit(queue: q));
                s.Queues.Tx[q].Cleanup();
            }
        }
        // One context descriptor per queue, the first time: the device keeps one per queue, and so does each queue.
        Assert.Equal(1, s.Device.TxContextsOf(0));
        Assert.Equal(1, s.Device.TxContextsOf(1));
        Assert.Equal(0, s.Queues.Tx[0].InFlight + s.Queues.Tx[1].InFlight);
    }

    [Fact]
    public void Hashed_frames_through_both_queues_and_back_out_allocate_zero_bytes()
    {
        const int Packets = 100_000;
        using var s = new Setup(queues: 2);
        // Two flows the table sends to different queues.
        var flows = new byte[2][];
        for (int i = 0; flows[0] is null || flows[1] is null; i++)
        {
            var f = Flow(i, tcp: true);
            flows[(int)(E1000eRssModel.Of(f, 0x001F_0000, Toeplitz.DefaultKey).Hash & 1)] ??= f;
        }
        var mbufs = new Mbuf[8];
        int Loop(int packets)
        {
            int forwarded = 0;
            for (int i = 0; i < packets; i++)
            {
                int q = i & 1;
                Assert.True(s.Device.Receive(flows[q]));
                int n = s.Queues.Rx[q].Burst(mbufs);
                if (n != 1 || (mbufs[0].Flags & OffloadFlags.RxRssHash) == 0) return -1;
                mbufs[0].Flags = OffloadFlags.None;
                forwarded += s.Queues.Tx[q].Burst(mbufs.AsSpan(0, 1));
                s.Device.Transmit(queue: q);
            }
            return forwarded;
        }
        Loop(2_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int forwarded = Loop(Packets);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(Packets, forwarded);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void A_stop_with_frames_pending_on_both_queues_and_a_chain_half_received_gives_every_mbuf_back()
    {
        // Setup.Dispose drains both queues, as a port stop does, and asserts the pool has every mbuf back.
        using var s = new Setup(queues: 2);
        for (int i = 0; i < 40; i++) Assert.True(s.Device.Receive(Flow(i, tcp: true)));
        // Queue 1's frames are taken and freed; queue 0's stay written back, never polled.
        var mbufs = new Mbuf[64];
        int n = s.Queues.Rx[1].Burst(mbufs);
        Assert.InRange(n, 1, 39);
        Mbuf.Free(mbufs.AsSpan(0, n));
        // Then on queue 1 two descriptors of a frame whose EOP never comes, taken in by a burst.
        int head = s.Device.RxHeadOf(1);
        s.Device.WriteBackRx(head, 2048, 0x01, 0, queue: 1);
        s.Device.WriteBackRx((head + 1) % Size, 2048, 0x01, 0, queue: 1);
        Assert.Equal(0, s.Queues.Rx[1].Burst(mbufs));
    }
}
