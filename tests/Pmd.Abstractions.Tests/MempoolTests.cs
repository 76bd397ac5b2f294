using Pmd.Memory;

namespace Pmd.Abstractions.Tests;

public sealed unsafe class MempoolTests
{
    [Fact]
    public void Bulk_alloc_and_free_on_two_threads_with_caches_returns_every_mbuf()
    {
        using var pool = Mempool.Create("two-threads", 4096, cacheSize: 128);
        Assert.Equal(4096, pool.Available);
        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            var burst = new Mbuf[32];
            for (int round = 0; round < 20_000; round++)
            {
                int got = pool.Alloc(burst);
                for (int i = 0; i < got; i++)
                {
                    burst[i].Append(4)[0] = (byte)t;
                    Assert.Equal(1, burst[i].RefCount);
                }
                Mbuf.Free(burst.AsSpan(0, got));
            }
            pool.FlushThreadCache();
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(4096, pool.Available);
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public void Counters_track_mbufs_in_use_across_a_thread_cache()
    {
        using var pool = Mempool.Create("counters", 256, cacheSize: 32);
        var burst = new Mbuf[10];
        Assert.Equal(10, pool.Alloc(burst));
        Assert.Equal(10, pool.InUse);
        Assert.Equal(246, pool.Available);
        Mbuf.Free(burst);
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public void Exhaustion_returns_fewer_mbufs_and_never_throws()
    {
        using var pool = Mempool.Create("exhaust", 100, cacheSize: 0);
        var burst = new Mbuf[64];
        Assert.Equal(64, pool.Alloc(burst));
        var more = new Mbuf[64];
        Assert.Equal(36, pool.Alloc(more));
        Assert.Equal(0, pool.Alloc(new Mbuf[8]));
        Assert.True(pool.Alloc().IsNull);
        Assert.False(pool.AllocExact(new Mbuf[1]));
        Mbuf.Free(burst);
        Mbuf.Free(more.AsSpan(0, 36));
        Assert.Equal(100, pool.Available);
    }

    [Fact]
    public void All_or_nothing_alloc_gives_back_a_partial_grab()
    {
        using var pool = Mempool.Create("exact", 40, cacheSize: 8);
        Assert.False(pool.AllocExact(new Mbuf[41]));
        Assert.Equal(40, pool.Available);
        var all = new Mbuf[40];
        Assert.True(pool.AllocExact(all));
        Mbuf.Free(all);
    }

    [Fact]
    public void Distinct_mbufs_are_handed_out_until_freed()
    {
        using var pool = Mempool.Create("distinct", 512, cacheSize: 64);
        var burst = new Mbuf[512];
        Assert.Equal(512, pool.Alloc(burst));
        Assert.Equal(512, burst.Select(m => (nint)m.BufferPointer).Distinct().Count());
        Assert.All(burst, m => Assert.True(pool.Owns(m)));
        Mbuf.Free(burst);
    }

    [Fact]
    public void A_chained_packet_is_freed_as_a_whole()
    {
        using var pool = Mempool.Create("chain", 64, cacheSize: 0);
        var head = pool.Alloc();
        head.Append(1000).Fill(1);
        for (int i = 0; i < 4; i++)
        {
            var seg = pool.Alloc();
            seg.Append(500).Fill((byte)(i + 2));
            Assert.True(head.Chain(seg));
        }
        Assert.Equal(5, head.SegmentCount);
        Assert.Equal(3000, head.PacketLength);
        Assert.Equal(5, pool.InUse);

        var flat = new byte[3000];
        Assert.Equal(3000, head.CopyTo(flat));
        Assert.Equal(1, flat[999]);
        Assert.Equal(2, flat[1000]);
        Assert.Equal(5, flat[2999]);

        head.Free();
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public void A_shared_mbuf_returns_to_the_pool_only_after_its_last_reference()
    {
        using var pool = Mempool.Create("refcnt", 8, cacheSize: 0);
        var m = pool.Alloc();
        m.AddRef();
        m.AddRef();
        Assert.Equal(3, m.RefCount);
        m.Free();
        m.Free();
        Assert.Equal(1, pool.InUse);
        m.Free();
        Assert.Equal(0, pool.InUse);
        Assert.Equal(1, pool.Alloc().RefCount);
    }

    [Fact]
    public void A_recycled_mbuf_comes_back_reset()
    {
        using var pool = Mempool.Create("reset", 1, cacheSize: 0);
        var m = pool.Alloc();
        m.Append(100);
        m.Prepend(14);
        m.Port = 3;
        m.RssHash = 77;
        m.Free();
        var again = pool.Alloc();
        Assert.Equal(m, again);
        Assert.Equal(0, again.DataLength);
        Assert.Equal(0, again.PacketLength);
        Assert.Equal(Mempool.DefaultHeadroom, again.Headroom);
        Assert.Equal(0u, again.RssHash);
        Assert.True(again.Next.IsNull);
        again.Free();
    }

    [Fact]
    public void Append_and_prepend_respect_the_buffer_bounds()
    {
        using var pool = Mempool.Create("bounds", 1, cacheSize: 0);
        var m = pool.Alloc();
        Assert.Equal(pool.DataRoom, m.Tailroom);
        Assert.True(m.Append(pool.DataRoom + 1).IsEmpty);
        Assert.Equal(pool.DataRoom, m.Append(pool.DataRoom).Length);
        Assert.True(m.Prepend(Mempool.DefaultHeadroom + 1).IsEmpty);
        Assert.Equal(Mempool.DefaultHeadroom, m.Prepend(Mempool.DefaultHeadroom).Length);
        Assert.Equal(pool.BufferSize, m.DataLength);
        Assert.True(m.TrimFront(10));
        Assert.Equal(pool.BufferSize - 10, m.PacketLength);
        m.Free();
    }

    [Fact]
    public void A_bulk_free_of_mixed_mbufs_returns_each_to_its_own_pool()
    {
        using var a = Mempool.Create("mixed-a", 200, cacheSize: 16);
        using var b = Mempool.Create("mixed-b", 200, cacheSize: 0);
        var list = new List<Mbuf>();
        for (int i = 0; i < 70; i++) list.Add(a.Alloc());     // a run longer than one batch
        list.Add(b.Alloc());                                   // another pool in the middle
        var chain = a.Alloc();
        chain.Chain(b.Alloc());                                // a chain across both pools
        list.Add(chain);
        var shared = a.Alloc();
        shared.AddRef();                                       // still referenced elsewhere
        list.Add(shared);
        list.Add(a.Alloc());
        Assert.Equal(73, a.InUse);
        Assert.Equal(2, b.InUse);

        Mbuf.Free(list.ToArray());
        Assert.Equal(1, a.InUse);                              // only the shared one stays
        Assert.Equal(0, b.InUse);
        shared.Free();
        Assert.Equal(0, a.InUse);
    }

    [Fact]
    public void A_million_bulk_alloc_free_cycles_allocate_no_managed_memory()
    {
        using var pool = Mempool.Create("zero-alloc", 2048, cacheSize: 256);
        var burst = new Mbuf[32];
        // Warm up: creates this thread's cache and JITs the path.
        for (int i = 0; i < 1000; i++) { pool.Alloc(burst); Mbuf.Free(burst); }

        long before = GC.GetAllocatedBytesForCurrentThread();
        long handedOut = 0;
        for (int i = 0; i < 1_000_000; i++)
        {
            int got = pool.Alloc(burst);
            handedOut += got;
            Mbuf.Free(burst.AsSpan(0, got));
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(32_000_000, handedOut);
        Assert.Equal(0, allocated);
        pool.FlushThreadCache();
        Assert.Equal(2048, pool.Available);
    }

    [Fact]
    public unsafe void Mbuf_headers_are_out_of_reach_of_devices_and_only_data_rooms_are_shared()
    {
        using var pool = Mempool.Create("private-headers", 512, cacheSize: 0, allowHugePages: false);
        var regions = DmaRegistry.Shared.Snapshot();
        var mbufs = new Mbuf[512];
        Assert.Equal(512, pool.Alloc(mbufs));
        foreach (var m in mbufs)
        {
            nint header = (nint)m.Header;
            // No region a vhost-user backend is sent, or VFIO maps, holds any byte of a header.
            Assert.DoesNotContain(regions, r => header + 128 > r.VirtualAddress && header < r.VirtualAddress + (nint)r.Length);
            Assert.True(pool.Region.Contains((nint)m.BufferPointer, (nuint)m.BufferLength));
            Assert.True(pool.Owns(m));
        }
        Assert.False(pool.Owns(Mbuf.FromHandle((nint)mbufs[0].Header + 64)));   // inside a header, not at one
        Mbuf.Free(mbufs);
        Assert.Equal(0, pool.InUse);
    }
}
