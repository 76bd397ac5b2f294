using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Vfio.Tests;

/// <summary>The datapath's discipline: a million packets through RX and TX allocate nothing, offloads or not.</summary>
public sealed class E1000eSteadyStateTests
{
    [Fact]
    public void A_million_packets_through_rx_and_tx_allocate_zero_bytes()
    {
        const int Packets = 1_000_000, Burst = 32;
        using var rig = new E1000eRig(size: 256, poolSize: 2048);
        var wire = Frames.BuildBytes(7, 64, E1000eRig.Host, E1000eRig.Guest);
        var mbufs = new Mbuf[Burst];
        // Warm up (JIT, pool, first pass over the ring), then measure.
        Loop(rig, wire, mbufs, 10_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var (received, sent) = Loop(rig, wire, mbufs, Packets);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(Packets, received);
        Assert.Equal(Packets, sent);
        Assert.Equal(0, allocated);
    }

    /// <summary>TCP/IPv4 frames sent back with checksum requests and TSO in turn: a context descriptor for nearly every packet, and still nothing allocated.</summary>
    [Fact]
    public void Half_a_million_offloaded_packets_checksums_and_tso_in_turn_allocate_zero_bytes()
    {
        const int Packets = 500_000, Burst = 32;
        using var rig = new E1000eRig(size: 256, poolSize: 2048);
        var wire = TcpFrames.Bytes(false, 1400, E1000eRig.Host, E1000eRig.Guest);
        var mbufs = new Mbuf[Burst];
        Loop(rig, wire, mbufs, 10_000, offload: true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var (received, sent) = Loop(rig, wire, mbufs, Packets, offload: true);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(Packets, received);
        Assert.Equal(Packets, sent);
        Assert.Equal(0UL, rig.Tx.Stats.Errors);
        Assert.True(rig.Device.TxContexts > Packets / 2, $"{rig.Device.TxContexts} context descriptors for {Packets} packets that switch between two contexts");
        Assert.Equal(0, allocated);
    }

    /// <summary>Asks for the TCP and IPv4 checksums on even packets, TSO (500-byte segments) on odd ones.</summary>
    private static void AskOffloads(Span<Mbuf> mbufs)
    {
        for (int i = 0; i < mbufs.Length; i++)
        {
            var m = mbufs[i];
            m.L2Length = TcpFrames.EthernetLength;
            m.L3Length = TcpFrames.Ipv4Length;
            m.L4Length = TcpFrames.TcpLength;
            bool tso = (i & 1) != 0;
            m.TsoSegmentSize = tso ? 500 : 0;
            m.Flags = OffloadFlags.TxIpv4 | OffloadFlags.TxIpChecksum | (tso ? OffloadFlags.TxTcpSegmentation : OffloadFlags.TxTcpChecksum);
        }
    }

    /// <summary>The device receives a burst, the driver forwards it to TX, the device sends it.</summary>
    private static (int Received, int Sent) Loop(E1000eRig rig, byte[] wire, Mbuf[] mbufs, int packets, bool offload = false)
    {
        int received = 0, sent = 0;
        while (received < packets)
        {
            int want = Math.Min(mbufs.Length, packets - received);
            for (int i = 0; i < want; i++)
                if (!rig.Device.Receive(wire)) break;
            int n = rig.Rx.Burst(mbufs.AsSpan(0, want));
            received += n;
            if (offload) AskOffloads(mbufs.AsSpan(0, n));
            int accepted = rig.Tx.Burst(mbufs.AsSpan(0, n));
            if (accepted < n) Mbuf.Free(mbufs.AsSpan(accepted, n - accepted));
            sent += rig.Device.Transmit();
        }
        while (rig.Tx.InFlight > 0 && sent < received)
        {
            sent += rig.Device.Transmit();
            rig.Tx.Cleanup();
        }
        return (received, sent);
    }
}
