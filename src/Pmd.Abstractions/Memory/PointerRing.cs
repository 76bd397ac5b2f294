using System.Runtime.InteropServices;

namespace Pmd.Memory;

/// <summary>
/// A bounded multi-producer, multi-consumer ring of pointers with bulk operations, after DPDK's
/// rte_ring: each side reserves a range by moving its head with a CAS, copies, then publishes by
/// moving its tail once the earlier reservations on the same side have published theirs.
/// Positions are 64-bit and never wrap in practice, so no ABA.
/// </summary>
internal sealed class PointerRing
{
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct HeadTail
    {
        [FieldOffset(0)] public long Head;
        [FieldOffset(64)] public long Tail;
    }

    private readonly nint[] _slots;
    private readonly long _mask;
    private HeadTail _prod;
    private HeadTail _cons;

    public PointerRing(int capacity)
    {
        if (capacity < 1 || !int.IsPow2(capacity)) throw new ArgumentOutOfRangeException(nameof(capacity), "must be a power of two");
        _slots = new nint[capacity];
        _mask = capacity - 1;
    }

    public int Capacity => _slots.Length;

    /// <summary>Entries published and not yet consumed (a racy snapshot for counters).</summary>
    public int Count => (int)(Volatile.Read(ref _prod.Tail) - Volatile.Read(ref _cons.Tail));

    /// <summary>Adds up to <paramref name="items"/>.Length pointers; returns how many went in.</summary>
    public int Enqueue(ReadOnlySpan<nint> items)
    {
        long head, next;
        int n;
        do
        {
            head = Volatile.Read(ref _prod.Head);
            long free = _slots.Length + Volatile.Read(ref _cons.Tail) - head;
            n = (int)Math.Min(items.Length, free);
            if (n <= 0) return 0;
            next = head + n;
        }
        while (Interlocked.CompareExchange(ref _prod.Head, next, head) != head);

        for (int i = 0; i < n; i++) _slots[(head + i) & _mask] = items[i];
        Publish(ref _prod.Tail, head, next);
        return n;
    }

    /// <summary>Removes up to <paramref name="items"/>.Length pointers; returns how many came out.</summary>
    public int Dequeue(Span<nint> items)
    {
        long head, next;
        int n;
        do
        {
            head = Volatile.Read(ref _cons.Head);
            long used = Volatile.Read(ref _prod.Tail) - head;
            n = (int)Math.Min(items.Length, used);
            if (n <= 0) return 0;
            next = head + n;
        }
        while (Interlocked.CompareExchange(ref _cons.Head, next, head) != head);

        for (int i = 0; i < n; i++) items[i] = _slots[(head + i) & _mask];
        Publish(ref _cons.Tail, head, next);
        return n;
    }

    /// <summary>Waits for the reservations before ours to publish, then publishes ours (release).</summary>
    private static void Publish(ref long tail, long head, long next)
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref tail) != head) spin.SpinOnce(sleep1Threshold: -1);
        Volatile.Write(ref tail, next);
    }
}
