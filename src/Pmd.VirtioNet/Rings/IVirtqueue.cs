namespace Pmd.VirtioNet.Rings;

/// <summary>One buffer of a descriptor chain: a device address and a length.</summary>
internal readonly record struct VirtqBuffer(ulong Address, uint Length);

/// <summary>What reading the next used entry found.</summary>
internal enum UsedStatus
{
    /// <summary>The device has returned nothing new.</summary>
    Empty,
    /// <summary>A buffer came back; its cookie and length are valid.</summary>
    Ok,
    /// <summary>The device wrote an id or length that cannot be right; the entry was skipped and counted.</summary>
    Corrupt,
}

/// <summary>
/// What an RX queue needs of its ring: lend single writable buffers in batches, take back the used
/// ones with the lengths the device wrote, reclaim the rest on stop. Implementations are structs so
/// that the RX path, generic over them, compiles to direct calls with no dispatch per packet. Every
/// value the device writes back is validated before use.
/// </summary>
internal interface IReceiveRing
{
    int Size { get; }

    /// <summary>Descriptors not lent to the device.</summary>
    int FreeCount { get; }

    /// <summary>Used entries that were rejected as corrupt.</summary>
    ulong CorruptEntries { get; }

    /// <summary>
    /// Times the device-written state became impossible (a used index past what is lent, wrong
    /// wrap bits): the queue then takes nothing until the state makes sense again.
    /// </summary>
    ulong Stalls { get; }

    /// <summary>The last look at the device-written state found it impossible.</summary>
    bool IsStalled { get; }

    /// <summary>
    /// Lends single-buffer chains, one per entry of <paramref name="buffers"/> with the cookie at the
    /// same index, as many as there are free descriptors; returns how many. The scalar path adds them
    /// one by one; the vectorized path writes each descriptor in one 16-byte store and makes the
    /// batch visible at once (on a packed ring, by its first descriptor's flags, stored last).
    /// </summary>
    int AddBuffers(ReadOnlySpan<VirtqBuffer> buffers, ReadOnlySpan<nint> cookies, bool deviceWritable);

    /// <summary>Makes everything added since the last call visible to the device.</summary>
    void Publish();

    /// <summary>After <see cref="Publish"/>: whether the device asked to be notified of the new buffers.</summary>
    bool NeedsNotify();

    /// <summary>
    /// Takes up to <paramref name="cookies"/>.Length used entries with the lengths the device wrote,
    /// rejected ones included as <see cref="CompletedBuffers.Rejected"/> (with cookie 0 when the entry
    /// named no buffer of ours), so the caller can account for them where they fell in the stream.
    /// </summary>
    int TakeUsed(Span<nint> cookies, Span<uint> lengths);

    /// <summary>Takes back a buffer the device still holds, on stop or reset; false when none is left.</summary>
    bool TryReclaim(out nint cookie);

    /// <summary>Tells the device not to interrupt: the driver polls.</summary>
    void SuppressInterrupts();
}

/// <summary>
/// The driver side of one virtqueue, split or packed, for any use: RX, TX and control. Beyond what
/// RX needs, it lends chains and indirect tables and takes completions one by one or in bulk.
/// </summary>
internal interface IVirtqueue : IReceiveRing
{
    /// <summary>Lends one buffer. <paramref name="cookie"/> comes back with it. False when no descriptor is free.</summary>
    bool AddBuffer(ulong address, uint length, bool deviceWritable, nint cookie);

    /// <summary>Lends a chain of device-readable buffers as one. False when too few descriptors are free.</summary>
    bool AddChain(ReadOnlySpan<VirtqBuffer> buffers, nint cookie);

    /// <summary>
    /// Lends a chain whose buffers from <paramref name="firstWritable"/> on are device-writable
    /// (a control command and its ack). False when too few descriptors are free.
    /// </summary>
    bool AddChain(ReadOnlySpan<VirtqBuffer> buffers, int firstWritable, nint cookie);

    /// <summary>
    /// Lends a chain of device-readable buffers through one indirect table, taking a single ring
    /// slot. False when indirect tables are not in use, the chain is too long, or the ring is full.
    /// </summary>
    bool AddIndirect(ReadOnlySpan<VirtqBuffer> buffers, nint cookie);

    /// <summary>Takes the next buffer the device returned, with the length it wrote.</summary>
    UsedStatus TryGetUsed(out nint cookie, out uint length);

    /// <summary>
    /// Takes up to <paramref name="cookies"/>.Length buffers the device has finished with, when the
    /// lengths it wrote do not matter (TX). Returns how many; rejected entries are counted in
    /// <see cref="IReceiveRing.CorruptEntries"/> and skipped.
    /// </summary>
    int TakeCompleted(Span<nint> cookies);
}
