namespace Pmd.Fuzz.Targets;

/// <summary>
/// What the harness lent a ring, by cookie: the checks that hold whatever the device writes.
/// Every cookie that comes back was lent and comes back once; the descriptors of what is still
/// lent plus the free ones are the whole ring; and with all reclaimed, the ring is whole again.
/// </summary>
internal sealed class CookieLedger
{
    private readonly Dictionary<nint, (int Descriptors, uint Capacity)> _lent = [];
    private nint _nextCookie = 0x1000;

    public int Count => _lent.Count;

    public int DescriptorsLent { get; private set; }

    /// <summary>A cookie no earlier buffer had, so a stale or repeated one is caught.</summary>
    public nint Next() => _nextCookie += 8;

    public void Lend(nint cookie, int descriptors, uint capacity)
    {
        _lent.Add(cookie, (descriptors, capacity));
        DescriptorsLent += descriptors;
    }

    /// <summary>A cookie the ring handed back; <paramref name="capacity"/> is what it was lent with.</summary>
    public void Return(nint cookie, out uint capacity)
    {
        if (!_lent.Remove(cookie, out var entry))
            throw new InvariantException($"cookie 0x{cookie:x} came back but is not lent (never lent, or returned twice)");
        DescriptorsLent -= entry.Descriptors;
        capacity = entry.Capacity;
    }

    /// <summary>After every operation: no descriptor is lost or counted twice.</summary>
    public void CheckAccounting(int freeCount, int size)
    {
        if (freeCount < 0 || freeCount > size)
            throw new InvariantException($"FreeCount {freeCount} outside 0..{size}");
        if (freeCount + DescriptorsLent != size)
            throw new InvariantException($"FreeCount {freeCount} + {DescriptorsLent} descriptors lent != ring size {size}");
    }
}
