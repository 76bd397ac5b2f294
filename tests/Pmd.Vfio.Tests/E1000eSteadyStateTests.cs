using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Vfio.Tests;

/// <summary>The datapath's discipline: a million packets through RX and TX allocate nothing.</summary>
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

    /// <summary>The device receives a burst, the driver forwards it to TX, the device sends it.</summary>
    private static (int Received, int Sent) Loop(E1000eRig rig, byte[] wire, Mbuf[] mbufs, int packets)
    {
        int received = 0, sent = 0;
        while (received < packets)
        {
            int want = Math.Min(mbufs.Length, packets - received);
            for (int i = 0; i < want; i++)
                if (!rig.Device.Receive(wire)) break;
            int n = rig.Rx.Burst(mbufs.AsSpan(0, want));
            received += n;
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
