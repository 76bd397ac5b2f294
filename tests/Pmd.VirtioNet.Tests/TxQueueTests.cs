using Pmd.Memory;
using Pmd.TestSupport.Virtio;
using Pmd.VirtioNet.Net;
using Pmd.VirtioNet.Rings;

namespace Pmd.VirtioNet.Tests;

/// <summary>The TX queue against the in-process device model: the header it writes and when it collects completions.</summary>
public sealed unsafe class TxQueueTests : IDisposable
{
    private const int Size = 64;
    private readonly Mempool _pool = Mempool.Create("txq-tests", 1024, cacheSize: 0);
    private readonly RingMemory _ringMemory = RingMemory.For(Size, packed: false);
    private readonly SplitRingDevice _device;
    private readonly VirtioTxQueue _tx;

    public TxQueueTests()
    {
        (var ring, _device) = _ringMemory.Split(new RingFeatures(EventIndex: false, InOrder: true, IndirectDescriptors: false));
        _tx = new VirtioTxQueue<SplitRing>(ring, new NullTransport(), 1, new VirtioTxOffloads(Checksum: true, Tso4: true, Tso6: true), indirect: false);
    }

    public void Dispose()
    {
        _tx.Drain();
        Assert.Equal(0, _pool.InUse);
        _ringMemory.Dispose();
        _pool.Dispose();
    }

    private Mbuf Frame(OffloadFlags flags = 0)
    {
        var m = _pool.Alloc();
        var d = m.Append(64);
        d.Fill(0xAB);
        d[14] = 0x45; // an IPv4 header as far as the version: an offload request must match it
        m.Flags = flags == 0 ? 0 : flags | OffloadFlags.TxIpv4;
        m.L2Length = 14;
        m.L3Length = 20;
        return m;
    }

    private byte[] SentHeader()
    {
        Assert.True(_device.TryPop(out var chain));
        Assert.Equal(1, chain.Count);
        Assert.Equal((uint)(VirtioNetHeader.Size + 64), chain[0].Length);
        var header = new ReadOnlySpan<byte>((void*)chain[0].Address, VirtioNetHeader.Size).ToArray();
        _device.PushUsed(chain.Id, 0);
        return header;
    }

    [Fact]
    public void The_header_is_rewritten_wherever_the_last_trip_left_something_else()
    {
        // A UDP checksum request: flags NEEDS_CSUM, csum_start 34 (little-endian at 6), csum_offset 6 at 8.
        var m = Frame(OffloadFlags.TxUdpChecksum);
        Assert.Equal(1, _tx.Burst([m]));
        Assert.Equal(new byte[] { 1, 0, 0, 0, 0, 0, 34, 0, 6, 0, 0, 0 }, SentHeader());

        // A buffer whose last trip left that request in its headroom, sent without offload: the
        // stale request must not go out with it.
        var reused = Frame();
        byte[] stale = [1, 0, 0, 0, 0, 0, 34, 0, 6, 0, 0, 0];
        stale.CopyTo(new Span<byte>(reused.DataPointer - VirtioNetHeader.Size, VirtioNetHeader.Size));
        Assert.Equal(1, _tx.Burst([reused]));
        Assert.Equal(new byte[12], SentHeader());

        // Garbage in the headroom (an application's own use of it) is never sent as a header.
        var dirty = Frame(OffloadFlags.TxTcpChecksum);
        new Span<byte>(dirty.DataPointer - VirtioNetHeader.Size, VirtioNetHeader.Size).Fill(0xEE);
        Assert.Equal(1, _tx.Burst([dirty]));
        Assert.Equal(new byte[] { 1, 0, 0, 0, 0, 0, 34, 0, 16, 0, 0, 0 }, SentHeader());
    }

    [Fact]
    public void Completions_are_collected_when_the_ring_runs_short_and_every_mbuf_returns()
    {
        var burst = new Mbuf[8];
        int sent = 0;
        for (int round = 0; round < 40; round++)
        {
            for (int i = 0; i < burst.Length; i++) burst[i] = Frame();
            int n = _tx.Burst(burst);
            Mbuf.Free(burst.AsSpan(n));
            sent += n;
            while (_device.TryPop(out var chain)) _device.PushUsed(chain.Id, 0);
            // Completed but not yet collected: at most what leaves the ring short of a threshold.
            Assert.True(_tx.InFlight <= Size, $"{_tx.InFlight} in flight");
        }
        Assert.Equal(40 * 8, sent);
        Assert.True(_pool.InUse > 0, "collection is lazy: some sent mbufs are still held");
        _tx.Cleanup();
        Assert.Equal(0, _tx.InFlight);
        Assert.Equal(0, _pool.InUse);
    }
}
