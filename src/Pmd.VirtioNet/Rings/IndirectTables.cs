namespace Pmd.VirtioNet.Rings;

/// <summary>
/// One indirect descriptor table per buffer id of a ring (VIRTQ_DESC_F_INDIRECT): a chained
/// packet then takes a single ring slot. The tables live in the port's ring arena, so the device
/// can read them; an empty instance means indirect descriptors are not in use.
/// </summary>
internal readonly unsafe struct IndirectTables
{
    /// <summary>Segments one table holds; longer chains use direct descriptors.</summary>
    public const int MaxEntries = 16;
    private const int EntryBytes = 16;

    private readonly byte* _memory;
    private readonly ulong _iova;

    public IndirectTables(byte* memory, ulong iova)
    {
        _memory = memory;
        _iova = iova;
    }

    public bool IsEmpty => _memory == null;

    public static int BytesFor(int ringSize) => ringSize * MaxEntries * EntryBytes;

    public byte* Table(int id) => _memory + (nint)id * MaxEntries * EntryBytes;

    public ulong TableIova(int id) => _iova + (ulong)id * MaxEntries * EntryBytes;
}
