using Pmd.VirtioNet.Rings;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// packed-ring: the driver side of a packed virtqueue. The device's writes — used descriptors
/// (id, length, flags, at any position) and its event-suppression area — come from the input,
/// interleaved with driver operations; checked as in <see cref="SplitRingTarget"/>.
/// </summary>
internal sealed unsafe class PackedRingTarget : FuzzTarget
{
    private const ushort Avail = 1 << 7, Used = 1 << 15;

    public override string Name => "packed-ring";

    public override void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        var config = RingConfig.From(input.U8());
        int size = config.Size;
        var layout = PackedRingLayout.For(size);
        using var memory = new NativeBlock(layout.TotalBytes);
        using var tables = new NativeBlock(IndirectTables.BytesFor(size));
        var ring = new PackedRing(memory.Pointer, size, config.Features, new IndirectTables(tables.Pointer, (ulong)tables.Pointer));
        var ledger = new CookieLedger();
        byte* desc = memory.Pointer + layout.DescriptorOffset;
        var deviceEvent = (ushort*)(memory.Pointer + layout.DeviceEventOffset);
        int ops = 0;
        while (!input.IsEmpty && ops++ < 4096)
        {
            switch (input.Below(10))
            {
                case 0 or 1: RingDriver.AddBuffer(ref ring, ledger, ref input); break;
                case 2: RingDriver.AddChain(ref ring, ledger, ref input); break;
                case 3: RingDriver.AddIndirect(ref ring, ledger, ref input, config.Features.IndirectDescriptors); break;
                case 4:
                    ring.Publish();
                    ring.NeedsNotify();
                    break;
                case 5 or 6: WriteUsed(desc, size, ref input); break;
                case 7 or 8:
                    if (config.TxStyle) RingDriver.TakeCompleted(ref ring, ledger, 1 + input.Below(8));
                    else RingDriver.GetUsed(ref ring, ledger);
                    break;
                case 9:
                    if (input.Bool()) ring.SuppressInterrupts();
                    Volatile.Write(ref deviceEvent[0], input.U16());
                    Volatile.Write(ref deviceEvent[1], input.U16());
                    break;
            }
            ledger.CheckAccounting(ring.FreeCount, size);
        }
        RingDriver.ReclaimAll(ref ring, ledger);
        // A reclaimed ring lends its whole size again, IN_ORDER too (fuzz/regressions/split-ring/inorder-reclaim).
        CheckWholeAgain(ref ring, desc, size);
    }

    /// <summary>
    /// A used descriptor at any position. The id may be the one the driver put in some slot (so
    /// valid completions are easy to reach), the flags the used pattern of either lap, or raw.
    /// </summary>
    private static void WriteUsed(byte* desc, int size, ref FuzzInput input)
    {
        byte* d = desc + 16 * (input.U8() % size);
        ushort id = input.U16();
        if ((id & 0x8000) != 0) id = *(ushort*)(desc + 16 * (id % size) + 12);
        *(uint*)(d + 8) = (input.U8() & 1) != 0 ? input.U32() : input.U8();
        *(ushort*)(d + 12) = id;
        ushort flags = input.Below(4) switch
        {
            0 => Avail | Used,
            1 => 0,
            2 => input.U16(),
            _ => *(ushort*)(d + 14),
        };
        Volatile.Write(ref *(ushort*)(d + 14), flags);
    }

    /// <summary>Lends every descriptor once more: each buffer id must come out of the free stack exactly once.</summary>
    private static void CheckWholeAgain(ref PackedRing ring, byte* desc, int size)
    {
        Span<bool> seen = stackalloc bool[size];
        for (int i = 0; i < size; i++)
        {
            int position = ring.AvailState & 0x7FFF;
            InvariantException.Check(ring.AddBuffer(0x1000, 64, true, 1), "a whole ring refused a buffer");
            ushort id = *(ushort*)(desc + 16 * position + 12);
            InvariantException.Check(id < size && !seen[id], "the free stack handed out a buffer id twice or out of range");
            seen[id] = true;
        }
        InvariantException.Check(!ring.AddBuffer(0x1000, 64, true, 1), "a full ring took one more buffer");
    }
}
