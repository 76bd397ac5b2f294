using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pmd.Memory;
using Pmd.VirtioNet.Rings;
using Pmd.VirtioNet.Transport;

namespace Pmd.VirtioNet.Net;

/// <summary>A TX queue, whatever its ring type.</summary>
internal abstract class VirtioTxQueue
{
    public VirtioQueueStats Stats;

    public abstract ulong CorruptEntries { get; }

    /// <summary>Times the device-written state of the ring became impossible (see <see cref="IReceiveRing.Stalls"/>).</summary>
    public abstract ulong Stalls { get; }

    /// <summary>The last look at the ring found its device-written state impossible.</summary>
    public abstract bool IsStalled { get; }

    /// <summary>Descriptors the device has not returned yet (one per packet unless packets are chained).</summary>
    public abstract int InFlight { get; }

    public abstract int Burst(Span<Mbuf> mbufs);

    /// <summary>Frees what the device has finished sending.</summary>
    public abstract void Cleanup();

    /// <summary>After the device stopped: frees every packet still on the ring.</summary>
    public abstract void Drain();
}

/// <summary>
/// Sends frames on one virtqueue. The virtio-net header is written into the headroom in front of
/// the first segment, so a single-segment packet takes one descriptor; a chained packet takes one
/// per segment. The ring holds the mbuf until the device returns it, then it is freed.
/// </summary>
internal sealed unsafe class VirtioTxQueue<TRing> : VirtioTxQueue where TRing : struct, IVirtqueue
{
    /// <summary>Segments one packet may have (and descriptors one chain may take).</summary>
    public const int MaxSegments = 64;

    /// <summary>Single-segment packets lent to the ring in one call.</summary>
    private const int RunLength = 32;

    /// <summary>Free descriptors below which a burst first collects completions.</summary>
    private const int FreeThreshold = 32;

    private TRing _ring;
    private readonly VirtioTransport _transport;
    private readonly int _virtqueue;
    private readonly VirtioTxOffloads _offloads;

    private readonly bool _indirect;

    public VirtioTxQueue(TRing ring, VirtioTransport transport, int virtqueue, VirtioTxOffloads offloads, bool indirect)
    {
        _indirect = indirect;
        _ring = ring;
        _transport = transport;
        _virtqueue = virtqueue;
        _offloads = offloads;
        _ring.SuppressInterrupts();
    }

    public override ulong CorruptEntries => _ring.CorruptEntries;

    public override ulong Stalls => _ring.Stalls;

    public override bool IsStalled => _ring.IsStalled;

    public override int InFlight => _ring.Size - _ring.FreeCount;

    public override int Burst(Span<Mbuf> mbufs)
    {
        // Completions are collected only when the ring runs short, as DPDK's tx_free_thresh does:
        // fewer reads of the used index (a line the device keeps writing) and larger batches.
        if (_ring.FreeCount < Math.Max(mbufs.Length, FreeThreshold)) Cleanup();
        Span<VirtqBuffer> chain = stackalloc VirtqBuffer[MaxSegments];
        // Single-segment packets are lent in runs, one AddBuffers each: on the vectorized path the
        // ring writes and publishes a run as a batch.
        Span<VirtqBuffer> run = stackalloc VirtqBuffer[RunLength];
        Span<nint> runCookies = stackalloc nint[RunLength];
        int pending = 0;
        int n = 0;
        for (; n < mbufs.Length; n++)
        {
            var m = mbufs[n];
            int segments = m.SegmentCount;
            bool viaTable = _indirect && segments > 1 && segments <= IndirectTables.MaxEntries;
            if ((viaTable ? 1 : segments) > _ring.FreeCount - pending) break;
            if (segments > MaxSegments || m.Headroom < VirtioNetHeader.Size)
            {
                // Never sendable: take it and drop it, or the caller would retry it forever.
                Stats.Dropped++;
                m.Free();
                continue;
            }
            if (!WriteHeader((VirtioNetHeader*)(m.DataPointer - VirtioNetHeader.Size), m))
            {
                // An offload that cannot be honored (lengths that do not fit, TSO not negotiated):
                // sending it would put a wrong frame on the wire.
                Stats.Dropped++;
                m.Free();
                continue;
            }
            ulong first = m.DataIova - VirtioNetHeader.Size;
            uint firstLength = (uint)(m.DataLength + VirtioNetHeader.Size);
            if (segments == 1)
            {
                run[pending] = new VirtqBuffer(first, firstLength);
                runCookies[pending++] = m.Handle;
                if (pending == RunLength) pending -= _ring.AddBuffers(run, runCookies, deviceWritable: false);
            }
            else
            {
                // A chain goes after the run before it, in the order the caller gave.
                if (pending > 0) pending -= _ring.AddBuffers(run[..pending], runCookies[..pending], deviceWritable: false);
                chain[0] = new VirtqBuffer(first, firstLength);
                var seg = m.Next;
                int count = 1;
                for (; count < segments && !seg.IsNull; count++, seg = seg.Next)
                    chain[count] = new VirtqBuffer(seg.DataIova, (uint)seg.DataLength);
                if (viaTable) _ring.AddIndirect(chain[..count], m.Handle);
                else _ring.AddChain(chain[..count], m.Handle);
            }
            Stats.Packets++;
            Stats.Bytes += (ulong)m.PacketLength;
        }
        if (pending > 0) _ring.AddBuffers(run[..pending], runCookies[..pending], deviceWritable: false);
        if (n > 0)
        {
            _ring.Publish();
            if (_ring.NeedsNotify())
            {
                Stats.Kicks++;
                _transport.Notify(_virtqueue);
            }
        }
        return n;
    }

    /// <summary>
    /// Writes the virtio-net header in front of the frame. A packet without offloads gets a zero
    /// header, stored only where it differs from what is there: a recycled mbuf usually holds the
    /// same header from its last trip, and the device has read that cache line since, so a store
    /// would have to take the line back from the device's core, a load does not. (DPDK's driver
    /// skips the store for the same reason.) Offloads take <see cref="VirtioTxOffload"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool WriteHeader(VirtioNetHeader* header, Mbuf m)
    {
        if ((m.Flags & OffloadFlags.TxOffloadMask) != 0) return VirtioTxOffload.WriteHeader(header, m, _offloads);
        if (Unsafe.ReadUnaligned<ulong>(header) != 0) Unsafe.WriteUnaligned(header, 0UL);
        if (Unsafe.ReadUnaligned<uint>((byte*)header + 8) != 0) Unsafe.WriteUnaligned((byte*)header + 8, 0u);
        return true;
    }

    public override void Cleanup()
    {
        // Completed packets are freed in batches: one put into the pool per batch. Each batch that
        // frees something returns chains that were lent, so the loop ends within a ring's worth.
        const int Batch = 64;
        Span<nint> done = stackalloc nint[Batch];
        ulong corruptBefore = _ring.CorruptEntries;
        int n, budget = _ring.Size;
        while (budget > 0 && (n = _ring.TakeCompleted(done)) > 0)
        {
            Mbuf.Free(MemoryMarshal.Cast<nint, Mbuf>(done[..n]));
            budget -= n;
        }
        Stats.Errors += _ring.CorruptEntries - corruptBefore;
    }

    public override void Drain()
    {
        Cleanup();
        while (_ring.TryReclaim(out nint cookie)) Mbuf.FromHandle(cookie).Free();
    }
}
