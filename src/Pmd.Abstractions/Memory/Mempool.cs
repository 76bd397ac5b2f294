using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Pmd.Memory;

/// <summary>
/// A fixed number of equal-size packet buffers, like rte_pktmbuf_pool. The data rooms are in one
/// <see cref="HugeRegion"/>, which devices and vhost-user backends can reach; the mbuf headers are
/// in a <see cref="PrivateRegion"/>, which they cannot, so a device that writes where it should
/// not can spoil packet bytes but never a chain pointer, a pool id or a refcount. Free buffers sit
/// in a lock-free ring and in per-thread caches. Getting fewer than asked is how exhaustion
/// shows: nothing on this path throws or allocates.
/// </summary>
public sealed unsafe class Mempool : IDisposable
{
    /// <summary>RTE_PKTMBUF_HEADROOM.</summary>
    public const int DefaultHeadroom = 128;

    /// <summary>RTE_MBUF_DEFAULT_BUF_SIZE: 2 KiB of data plus the headroom.</summary>
    public const int DefaultBufferSize = 2048 + DefaultHeadroom;

    public const int DefaultCacheSize = 256;

    /// <summary>Bulk requests larger than this bypass the cache.</summary>
    internal const int MaxCachedBulk = 512;

    private const int MaxPools = 4096;
    private static readonly Mempool?[] s_pools = new Mempool?[MaxPools];
    private static readonly Lock s_poolsLock = new();

    [ThreadStatic]
    private static MempoolCache?[]? t_caches;

    private readonly HugeRegion _region;
    private readonly PrivateRegion _headers;
    private readonly PointerRing _ring;
    private readonly List<MempoolCache> _caches = [];
    private readonly Lock _cachesLock = new();
    private readonly int _elementSize;
    private bool _disposed;

    private Mempool(string name, ushort id, HugeRegion region, PrivateRegion headers, int count, int cacheSize, int bufferSize, int headroom)
    {
        Name = name;
        Id = id;
        _region = region;
        _headers = headers;
        Capacity = count;
        CacheSize = cacheSize;
        BufferSize = bufferSize;
        Headroom = headroom;
        _elementSize = Alignment.AlignUp(bufferSize, 64);
        _ring = new PointerRing((int)BitOperations.RoundUpToPowerOf2((uint)count));
        Populate();
    }

    public string Name { get; }

    public ushort Id { get; }

    public int Capacity { get; }

    public int CacheSize { get; }

    /// <summary>Headroom plus data room of each buffer.</summary>
    public int BufferSize { get; }

    public int Headroom { get; }

    /// <summary>Data room after the headroom: the most one segment can carry.</summary>
    public int DataRoom => BufferSize - Headroom;

    public HugeRegion Region => _region;

    /// <summary>Free mbufs, in the ring and in every thread's cache.</summary>
    public int Available
    {
        get
        {
            int n = _ring.Count;
            lock (_cachesLock)
                foreach (var c in _caches) n += Volatile.Read(ref c.Count);
            return n;
        }
    }

    /// <summary>Mbufs handed out and not yet freed.</summary>
    public int InUse => Capacity - Available;

    /// <summary>Free mbufs in the shared ring (DPDK's common_pool_count).</summary>
    internal int CommonPoolCount => _ring.Count;

    /// <summary>Free mbufs in the threads' caches (DPDK's total_cache_count).</summary>
    internal int CachedCount
    {
        get
        {
            int n = 0;
            lock (_cachesLock)
                foreach (var c in _caches) n += Volatile.Read(ref c.Count);
            return n;
        }
    }

    /// <summary>The bytes each buffer takes in the region (the buffer size, cache-line aligned).</summary>
    internal int ElementSize => _elementSize;

    /// <summary>The pools that exist now, by id (for telemetry's /mempool/list).</summary>
    internal static List<Mempool> All()
    {
        lock (s_poolsLock) return [.. s_pools.Where(p => p is not null).Select(p => p!)];
    }

    /// <summary>
    /// Creates a pool of <paramref name="count"/> mbufs with <paramref name="bufferSize"/> bytes each
    /// (headroom included), in hugepages when possible.
    /// </summary>
    public static Mempool Create(string name, int count, int cacheSize = DefaultCacheSize, int bufferSize = DefaultBufferSize,
        int headroom = DefaultHeadroom, IovaMode? iovaMode = null, bool allowHugePages = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, 1 << 24);
        ArgumentOutOfRangeException.ThrowIfNegative(cacheSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cacheSize, MaxCachedBulk);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bufferSize, ushort.MaxValue);
        if (headroom < 0 || headroom > bufferSize) throw new ArgumentOutOfRangeException(nameof(headroom), "headroom must fit in the buffer");

        int element = Alignment.AlignUp(bufferSize, 64);
        // In physical-address mode a buffer must not straddle two pages that are not physically
        // adjacent, so leave room to skip to the next page; one element per page is the worst case.
        nuint bytes = (nuint)count * (nuint)element;
        var mode = iovaMode ?? DmaRegistry.DefaultIovaMode;
        if (mode == IovaMode.PhysicalAddress) bytes *= 2;

        lock (s_poolsLock)
        {
            int id = Array.IndexOf(s_pools, null);
            if (id < 0) throw new InvalidOperationException("too many mempools");
            var region = HugeRegion.Allocate(name, bytes, mode, allowHugePages);
            PrivateRegion? headers = null;
            try
            {
                headers = PrivateRegion.Allocate((nuint)count * MbufHeader.Size, allowHugePages);
                var pool = new Mempool(name, (ushort)id, region, headers, count, cacheSize, bufferSize, headroom);
                s_pools[id] = pool;
                return pool;
            }
            catch
            {
                headers?.Dispose();
                region.Dispose();
                throw;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Mempool FromId(ushort id) => s_pools[id]!;

    /// <summary>The pools alive now, for readers off the datapath (metrics, telemetry).</summary>
    internal static List<Mempool> Snapshot()
    {
        lock (s_poolsLock) return [.. s_pools.Where(p => p is not null).Select(p => p!)];
    }

    /// <summary>Takes one mbuf, or a null mbuf when the pool is empty.</summary>
    public Mbuf Alloc()
    {
        Mbuf one = default;
        Alloc(new Span<Mbuf>(ref one));
        return one;
    }

    /// <summary>Fills as much of <paramref name="mbufs"/> as the pool can; returns the count filled.</summary>
    public int Alloc(Span<Mbuf> mbufs)
    {
        var pointers = MemoryMarshal.Cast<Mbuf, nint>(mbufs);
        int got = GetRaw(pointers);
        for (int i = 0; i < got; i++) Mbuf.Reset((MbufHeader*)pointers[i]);
        return got;
    }

    /// <summary>
    /// All or nothing, like rte_pktmbuf_alloc_bulk: a receive refill that cannot be completed is
    /// better not started.
    /// </summary>
    public bool AllocExact(Span<Mbuf> mbufs)
    {
        int got = Alloc(mbufs);
        if (got == mbufs.Length) return true;
        PutRaw(MemoryMarshal.Cast<Mbuf, nint>(mbufs[..got]));
        return false;
    }

    private int GetRaw(Span<nint> pointers)
    {
        var cache = ThreadCache();
        if (cache is null || pointers.Length > MaxCachedBulk) return _ring.Dequeue(pointers);

        if (cache.Count < pointers.Length)
        {
            int want = cache.Size + pointers.Length - cache.Count;
            cache.Count += _ring.Dequeue(cache.Objects.AsSpan(cache.Count, want));
        }
        int n = Math.Min(pointers.Length, cache.Count);
        int top = cache.Count;
        for (int i = 0; i < n; i++) pointers[i] = cache.Objects[top - 1 - i];
        Volatile.Write(ref cache.Count, top - n);
        return n;
    }

    internal void PutRaw(MbufHeader* mbuf)
    {
        nint one = (nint)mbuf;
        PutRaw(new ReadOnlySpan<nint>(in one));
    }

    internal void PutRaw(ReadOnlySpan<nint> pointers)
    {
        var cache = ThreadCache();
        if (cache is null || pointers.Length > MaxCachedBulk)
        {
            EnqueueAll(pointers);
            return;
        }
        pointers.CopyTo(cache.Objects.AsSpan(cache.Count));
        int count = cache.Count + pointers.Length;
        if (count > cache.FlushThreshold)
        {
            EnqueueAll(cache.Objects.AsSpan(cache.Size, count - cache.Size));
            count = cache.Size;
        }
        Volatile.Write(ref cache.Count, count);
    }

    private void EnqueueAll(ReadOnlySpan<nint> pointers)
    {
        // The ring holds every mbuf of the pool, so it always has room for the ones coming back.
        int done = _ring.Enqueue(pointers);
        if (done != pointers.Length) Environment.FailFast($"mempool {Name}: more mbufs returned than it owns (double free?)");
    }

    /// <summary>Returns this thread's cached mbufs to the shared ring, e.g. before a polling thread exits.</summary>
    public void FlushThreadCache()
    {
        var cache = ThreadCache();
        if (cache is null || cache.Count == 0) return;
        EnqueueAll(cache.Objects.AsSpan(0, cache.Count));
        Volatile.Write(ref cache.Count, 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private MempoolCache? ThreadCache()
    {
        if (CacheSize == 0) return null;
        var caches = t_caches;
        if (caches is not null && Id < caches.Length && caches[Id] is { } cache && cache.Pool == this) return cache;
        return CreateThreadCache();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private MempoolCache CreateThreadCache()
    {
        var caches = t_caches ?? [];
        if (Id >= caches.Length) Array.Resize(ref caches, Math.Max(Id + 1, caches.Length * 2));
        t_caches = caches;
        var cache = new MempoolCache(this, CacheSize);
        lock (_cachesLock) _caches.Add(cache);
        caches[Id] = cache;
        return cache;
    }

    private void Populate()
    {
        byte* start = _region.Pointer;
        nuint offset = 0;
        var batch = new nint[Math.Min(Capacity, 1024)];
        int inBatch = 0, placed = 0;
        while (placed < Capacity)
        {
            if (offset + (nuint)_elementSize > _region.Length)
                throw new InvalidOperationException($"mempool {Name}: region too small for {Capacity} mbufs with contiguous IOVAs");
            nint va = (nint)(start + offset);
            if (!_region.IsIovaContiguous(va, (nuint)_elementSize))
            {
                offset = Alignment.AlignUp(offset + 1, (nuint)_region.PageSize);
                continue;
            }
            var h = (MbufHeader*)(_headers.Pointer + (nuint)placed * MbufHeader.Size);
            *h = default;
            h->BufAddr = (byte*)va;
            h->BufIova = _region.IovaOf(va);
            h->BufLen = (ushort)BufferSize;
            h->Headroom = (ushort)Headroom;
            h->PoolId = Id;
            h->RefCnt = 1;
            Mbuf.Reset(h);
            batch[inBatch++] = (nint)h;
            placed++;
            offset += (nuint)_elementSize;
            if (inBatch == batch.Length || placed == Capacity)
            {
                EnqueueAll(batch.AsSpan(0, inBatch));
                inBatch = 0;
            }
        }
    }

    /// <summary>Whether <paramref name="mbuf"/> is one of this pool's mbufs.</summary>
    public bool Owns(Mbuf mbuf)
    {
        if (mbuf.IsNull || !_headers.Contains((nint)mbuf.Header, MbufHeader.Size)) return false;
        nuint offset = (nuint)((byte*)mbuf.Header - _headers.Pointer);
        return offset % MbufHeader.Size == 0 && offset / MbufHeader.Size < (nuint)Capacity;
    }

    public void Dispose()
    {
        lock (s_poolsLock)
        {
            if (_disposed) return;
            _disposed = true;
            s_pools[Id] = null;
        }
        _region.Dispose();
        _headers.Dispose();
    }

    public override string ToString() => $"mempool {Name}: {Available}/{Capacity} free, {BufferSize}-byte buffers";
}
