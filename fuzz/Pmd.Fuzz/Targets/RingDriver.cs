using Pmd.VirtioNet.Rings;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// The driver-side operations both ring targets interleave with the device's writes, each checked
/// against the <see cref="CookieLedger"/>. Generic over the ring struct, as Pmd's queues are.
/// </summary>
internal static class RingDriver
{
    public static void AddBuffer<TRing>(ref TRing ring, CookieLedger ledger, ref FuzzInput input) where TRing : struct, IVirtqueue
    {
        ulong address = input.U32();
        uint length = input.U16();
        bool writable = input.Bool();
        bool room = ring.FreeCount > 0;
        nint cookie = ledger.Next();
        bool added = ring.AddBuffer(address, length, writable, cookie);
        InvariantException.Check(added == room, "AddBuffer must succeed exactly when a descriptor is free");
        if (added) ledger.Lend(cookie, 1, writable ? length : 0);
    }

    public static void AddChain<TRing>(ref TRing ring, CookieLedger ledger, ref FuzzInput input) where TRing : struct, IVirtqueue
    {
        int n = 1 + input.Below(4);
        int firstWritable = input.Below(n + 1);
        Span<VirtqBuffer> buffers = stackalloc VirtqBuffer[n];
        uint writable = 0;
        for (int i = 0; i < n; i++)
        {
            buffers[i] = new VirtqBuffer(input.U32(), input.U16());
            if (i >= firstWritable) writable += buffers[i].Length;
        }
        bool room = ring.FreeCount >= n;
        nint cookie = ledger.Next();
        bool added = ring.AddChain(buffers, firstWritable, cookie);
        InvariantException.Check(added == room, "AddChain must succeed exactly when the chain fits");
        if (added) ledger.Lend(cookie, n, writable);
    }

    public static void AddIndirect<TRing>(ref TRing ring, CookieLedger ledger, ref FuzzInput input, bool enabled) where TRing : struct, IVirtqueue
    {
        int n = 1 + input.Below(IndirectTables.MaxEntries + 1);
        Span<VirtqBuffer> buffers = stackalloc VirtqBuffer[n];
        for (int i = 0; i < n; i++) buffers[i] = new VirtqBuffer(input.U32(), input.U16());
        bool room = enabled && n <= IndirectTables.MaxEntries && ring.FreeCount > 0;
        nint cookie = ledger.Next();
        bool added = ring.AddIndirect(buffers, cookie);
        InvariantException.Check(added == room, "AddIndirect must succeed exactly when enabled, short enough and a slot is free");
        if (added) ledger.Lend(cookie, 1, 0);
    }

    public static void GetUsed<TRing>(ref TRing ring, CookieLedger ledger) where TRing : struct, IVirtqueue
    {
        ulong corruptBefore = ring.CorruptEntries;
        var status = ring.TryGetUsed(out nint cookie, out uint length);
        switch (status)
        {
            case UsedStatus.Empty:
                InvariantException.Check(cookie == 0, "an empty ring returned a cookie");
                break;
            case UsedStatus.Ok:
                InvariantException.Check(cookie != 0, "an Ok entry without a cookie");
                ledger.Return(cookie, out uint capacity);
                InvariantException.Check(capacity == 0 || length <= capacity, "an Ok entry longer than the buffer's writable capacity");
                break;
            case UsedStatus.Corrupt:
                InvariantException.Check(ring.CorruptEntries == corruptBefore + 1, "a Corrupt entry was not counted");
                // The buffer, if the entry named one of ours, is back all the same.
                if (cookie != 0) ledger.Return(cookie, out _);
                break;
            default:
                throw new InvariantException($"unknown UsedStatus {status}");
        }
    }

    public static void TakeCompleted<TRing>(ref TRing ring, CookieLedger ledger, int want) where TRing : struct, IVirtqueue
    {
        Span<nint> cookies = stackalloc nint[want];
        int n = ring.TakeCompleted(cookies);
        InvariantException.Check(n >= 0 && n <= want, "TakeCompleted returned more than asked");
        for (int i = 0; i < n; i++)
        {
            InvariantException.Check(cookies[i] != 0, "TakeCompleted returned a null cookie");
            ledger.Return(cookies[i], out _);
        }
    }

    /// <summary>
    /// The stop path: every buffer comes back through TryReclaim, in at most one call per
    /// descriptor, and the ring then lends its whole size again, each descriptor once.
    /// </summary>
    public static void ReclaimAll<TRing>(ref TRing ring, CookieLedger ledger) where TRing : struct, IVirtqueue
    {
        int calls = 0;
        while (ring.TryReclaim(out nint cookie))
        {
            InvariantException.Check(++calls <= ring.Size, "TryReclaim returned more buffers than the ring has descriptors");
            ledger.Return(cookie, out _);
        }
        InvariantException.Check(ledger.Count == 0, "buffers still lent after TryReclaim said none is left");
        InvariantException.Check(ring.FreeCount == ring.Size, "FreeCount is not the ring size after everything was reclaimed");
    }
}
