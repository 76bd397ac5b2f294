using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Pmd.Memory;

/// <summary>
/// A packet buffer: a pointer to an <see cref="MbufHeader"/> in pool memory. Copying an Mbuf copies
/// the pointer, not the packet; ownership passes with it (RxBurst hands mbufs to the caller,
/// TxBurst takes them). A default Mbuf is null.
/// </summary>
public readonly unsafe struct Mbuf : IEquatable<Mbuf>
{
    private readonly MbufHeader* _h;

    internal Mbuf(MbufHeader* header) => _h = header;

    internal MbufHeader* Header => _h;

    /// <summary>The pointer as a number, for rings that carry an opaque cookie per buffer.</summary>
    internal nint Handle => (nint)_h;

    /// <summary>The inverse of <see cref="Handle"/>; only for values this process produced.</summary>
    internal static Mbuf FromHandle(nint handle) => new((MbufHeader*)handle);

    public bool IsNull => _h == null;

    /// <summary>The buffer's address as the pool's IOVA mode sees it, for descriptors.</summary>
    public ulong BufferIova => _h->BufIova;

    /// <summary>The IOVA of the first data byte.</summary>
    public ulong DataIova => _h->BufIova + _h->DataOff;

    public byte* DataPointer => _h->BufAddr + _h->DataOff;

    public byte* BufferPointer => _h->BufAddr;

    public int BufferLength => _h->BufLen;

    /// <summary>Bytes of this segment.</summary>
    public int DataLength
    {
        get => _h->DataLen;
        set => _h->DataLen = (ushort)value;
    }

    /// <summary>Bytes of the whole chain; meaningful on the first segment.</summary>
    public int PacketLength
    {
        get => (int)_h->PktLen;
        set => _h->PktLen = (uint)value;
    }

    public int DataOffset
    {
        get => _h->DataOff;
        set => _h->DataOff = (ushort)value;
    }

    public int Headroom => _h->DataOff;

    public int Tailroom => _h->BufLen - _h->DataOff - _h->DataLen;

    public int SegmentCount
    {
        get => _h->NbSegs;
        set => _h->NbSegs = (ushort)value;
    }

    public ushort Port
    {
        get => _h->Port;
        set => _h->Port = value;
    }

    public OffloadFlags Flags
    {
        get => (OffloadFlags)_h->OlFlags;
        set => _h->OlFlags = (ulong)value;
    }

    public uint RssHash
    {
        get => _h->RssHash;
        set => _h->RssHash = value;
    }

    public ushort VlanTci
    {
        get => _h->VlanTci;
        set => _h->VlanTci = value;
    }

    /// <summary>Layer-2 header length for TX offloads (DPDK's l2_len, 7 bits).</summary>
    public int L2Length
    {
        get => (int)(_h->TxOffload & 0x7F);
        set => _h->TxOffload = (_h->TxOffload & ~0x7FUL) | ((ulong)value & 0x7F);
    }

    /// <summary>Layer-3 header length for TX offloads (DPDK's l3_len, 9 bits).</summary>
    public int L3Length
    {
        get => (int)((_h->TxOffload >> 7) & 0x1FF);
        set => _h->TxOffload = (_h->TxOffload & ~(0x1FFUL << 7)) | (((ulong)value & 0x1FF) << 7);
    }

    /// <summary>Layer-4 header length for TSO (DPDK's l4_len, 8 bits).</summary>
    public int L4Length
    {
        get => (int)((_h->TxOffload >> 16) & 0xFF);
        set => _h->TxOffload = (_h->TxOffload & ~(0xFFUL << 16)) | (((ulong)value & 0xFF) << 16);
    }

    /// <summary>
    /// TX: the payload bytes of each segment TSO makes (DPDK's tso_segsz). RX with
    /// <see cref="OffloadFlags.RxLro"/>: the payload size of the segments the device coalesced.
    /// </summary>
    public int TsoSegmentSize
    {
        get => (int)((_h->TxOffload >> 24) & 0xFFFF);
        set => _h->TxOffload = (_h->TxOffload & ~(0xFFFFUL << 24)) | (((ulong)value & 0xFFFF) << 24);
    }

    /// <summary>L2Length + L3Length + L4Length: the headers each TSO segment repeats.</summary>
    public int HeaderLength => (int)((_h->TxOffload & 0x7F) + ((_h->TxOffload >> 7) & 0x1FF) + ((_h->TxOffload >> 16) & 0xFF));

    public int RefCount => Volatile.Read(ref _h->RefCnt);

    public Mbuf Next
    {
        get => new(_h->Next);
        set => _h->Next = value._h;
    }

    /// <summary>This segment's bytes.</summary>
    public Span<byte> Data => new(_h->BufAddr + _h->DataOff, _h->DataLen);

    /// <summary>The pool this mbuf returns to when freed.</summary>
    public Mempool Pool => Mempool.FromId(_h->PoolId);

    public Mbuf LastSegment
    {
        get
        {
            var h = _h;
            while (h->Next != null) h = h->Next;
            return new Mbuf(h);
        }
    }

    /// <summary>Grows this segment at its tail; returns the new bytes, or an empty span if there is no room.</summary>
    public Span<byte> Append(int length)
    {
        if ((uint)length > (uint)Tailroom) return default;
        var tail = _h->BufAddr + _h->DataOff + _h->DataLen;
        _h->DataLen += (ushort)length;
        _h->PktLen += (uint)length;
        return new Span<byte>(tail, length);
    }

    /// <summary>Grows this segment into its headroom; returns the new bytes, or an empty span if there is no room.</summary>
    public Span<byte> Prepend(int length)
    {
        if ((uint)length > _h->DataOff) return default;
        _h->DataOff -= (ushort)length;
        _h->DataLen += (ushort)length;
        _h->PktLen += (uint)length;
        return new Span<byte>(_h->BufAddr + _h->DataOff, length);
    }

    /// <summary>Removes <paramref name="length"/> bytes from the front of this segment.</summary>
    public bool TrimFront(int length)
    {
        if ((uint)length > _h->DataLen) return false;
        _h->DataOff += (ushort)length;
        _h->DataLen -= (ushort)length;
        _h->PktLen -= (uint)length;
        return true;
    }

    /// <summary>
    /// Links <paramref name="tail"/> (itself possibly a chain) after the last segment of this packet
    /// and updates the head's packet length and segment count.
    /// </summary>
    public bool Chain(Mbuf tail)
    {
        int segments = _h->NbSegs + tail._h->NbSegs;
        if (segments > ushort.MaxValue) return false;
        LastSegment._h->Next = tail._h;
        _h->NbSegs = (ushort)segments;
        _h->PktLen += tail._h->PktLen;
        return true;
    }

    /// <summary>Copies the packet's bytes, across segments, into <paramref name="destination"/>; returns the bytes copied.</summary>
    public int CopyTo(Span<byte> destination)
    {
        int copied = 0;
        for (var h = _h; h != null && copied < destination.Length; h = h->Next)
        {
            int n = Math.Min(h->DataLen, destination.Length - copied);
            new ReadOnlySpan<byte>(h->BufAddr + h->DataOff, n).CopyTo(destination[copied..]);
            copied += n;
        }
        return copied;
    }

    /// <summary>Takes one more reference; each reference needs its own <see cref="Free()"/>.</summary>
    public void AddRef()
    {
        ushort current;
        do current = Volatile.Read(ref _h->RefCnt);
        while (Interlocked.CompareExchange(ref _h->RefCnt, (ushort)(current + 1), current) != current);
    }

    /// <summary>Returns every segment of the packet whose last reference this was to its pool.</summary>
    public void Free()
    {
        var h = _h;
        while (h != null)
        {
            var next = h->Next;
            if (Release(h)) Mempool.FromId(h->PoolId).PutRaw(h);
            h = next;
        }
    }

    /// <summary>Frees every packet in <paramref name="mbufs"/>.</summary>
    public static void Free(ReadOnlySpan<Mbuf> mbufs)
    {
        // Runs of plain mbufs (one segment, one owner) from one pool go back in a single put;
        // chains and shared mbufs take the general path.
        const int RunLength = 64;
        Span<nint> run = stackalloc nint[RunLength];
        int n = 0;
        ushort pool = 0;
        foreach (var m in mbufs)
        {
            var h = m._h;
            if (h->Next != null || Volatile.Read(ref h->RefCnt) != 1)
            {
                m.Free();
                continue;
            }
            if (n == RunLength || (n > 0 && h->PoolId != pool))
            {
                Mempool.FromId(pool).PutRaw(run[..n]);
                n = 0;
            }
            pool = h->PoolId;
            run[n++] = (nint)h;
        }
        if (n > 0) Mempool.FromId(pool).PutRaw(run[..n]);
    }

    /// <summary>Drops one reference; true when it was the last and the segment must go back.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Release(MbufHeader* h)
    {
        // A sole owner needs no atomic: nobody else can see the count change. Free mbufs keep a
        // count of 1, so the last release leaves it as it is.
        while (true)
        {
            ushort current = Volatile.Read(ref h->RefCnt);
            if (current <= 1) return true;
            if (Interlocked.CompareExchange(ref h->RefCnt, (ushort)(current - 1), current) == current) return false;
        }
    }

    /// <summary>Puts a freshly allocated or recycled mbuf into its pristine state.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Reset(MbufHeader* h)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            // DataOff, RefCnt, NbSegs, Port, OlFlags, PacketType, PktLen, DataLen, VlanTci and
            // RssHash are the 32 bytes at offset 16: one store from a register instead of ten
            // (DPDK's vector RX rearms its mbufs the same way). A free mbuf's RefCnt is 1.
            ulong rearm = h->Headroom | 1UL << 16 | 1UL << 32 | (ulong)ushort.MaxValue << 48;
            Vector256.Create(rearm, 0, 0, 0).Store((ulong*)((byte*)h + RearmOffset));
            h->Next = null;
            h->TxOffload = 0;
            return;
        }
        ResetScalar(h);
    }

    /// <summary>Where the 32 bytes <see cref="Reset"/> writes in one store begin (DataOff).</summary>
    internal const int RearmOffset = 16;

    /// <summary><see cref="Reset"/> field by field: the path without 256-bit vectors, and the reference its tests compare with.</summary>
    internal static void ResetScalar(MbufHeader* h)
    {
        h->DataOff = h->Headroom;
        h->DataLen = 0;
        h->PktLen = 0;
        h->NbSegs = 1;
        h->Next = null;
        h->OlFlags = 0;
        h->PacketType = 0;
        h->RssHash = 0;
        h->VlanTci = 0;
        h->Port = ushort.MaxValue;
        h->TxOffload = 0;
    }

    public bool Equals(Mbuf other) => _h == other._h;

    public override bool Equals(object? obj) => obj is Mbuf other && Equals(other);

    public override int GetHashCode() => ((nint)_h).GetHashCode();

    public static bool operator ==(Mbuf a, Mbuf b) => a._h == b._h;

    public static bool operator !=(Mbuf a, Mbuf b) => a._h != b._h;

    public override string ToString() => IsNull ? "Mbuf(null)" : $"Mbuf(0x{(nint)_h:x}, {DataLength}/{PacketLength} bytes, {SegmentCount} segs)";
}
