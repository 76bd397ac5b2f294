using Pmd.VirtioNet.Rings;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// split-ring: the driver side of a split virtqueue, with the device-written memory (used idx,
/// used elements, used flags, avail_event) taken from the input, interleaved with driver
/// operations the input chooses. See <see cref="CookieLedger"/> and <see cref="RingDriver"/> for
/// what is checked.
/// </summary>
internal sealed unsafe class SplitRingTarget : FuzzTarget
{
    public override string Name => "split-ring";

    public override void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        var config = RingConfig.From(input.U8());
        int size = config.Size;
        var layout = SplitRingLayout.For(size);
        using var memory = new NativeBlock(layout.TotalBytes);
        using var tables = new NativeBlock(IndirectTables.BytesFor(size));
        var ring = new SplitRing(memory.Pointer, size, config.Features, new IndirectTables(tables.Pointer, (ulong)tables.Pointer));
        var ledger = new CookieLedger();
        byte* used = memory.Pointer + layout.UsedOffset;
        var usedIdx = (ushort*)(used + 2);
        var usedRing = (uint*)(used + 4);
        var availRing = (ushort*)(memory.Pointer + layout.AvailOffset + 4);
        int ops = 0;
        while (!input.IsEmpty && ops++ < 4096)
        {
            switch (input.Below(12))
            {
                case 0 or 1: RingDriver.AddBuffer(ref ring, ledger, ref input); break;
                case 2: RingDriver.AddChain(ref ring, ledger, ref input); break;
                case 3: RingDriver.AddIndirect(ref ring, ledger, ref input, config.Features.IndirectDescriptors); break;
                case 4:
                    ring.Publish();
                    ring.NeedsNotify();
                    break;
                case 5:
                {
                    // A used element. The top bit asks for an id the driver really posted (the head
                    // at that avail position), so the fuzzer reaches valid completions easily.
                    int slot = input.U8() & (size - 1);
                    uint id = input.U16();
                    if ((id & 0x8000) != 0) id = availRing[id & (uint)(size - 1)];
                    usedRing[slot * 2] = id;
                    usedRing[slot * 2 + 1] = (input.U8() & 1) != 0 ? input.U32() : input.U8();
                    break;
                }
                case 6: Volatile.Write(ref *usedIdx, (ushort)(*usedIdx + 1 + input.Below(4))); break;
                case 7: Volatile.Write(ref *usedIdx, input.U16()); break;
                case 8 or 9:
                    if (config.TxStyle) RingDriver.TakeCompleted(ref ring, ledger, 1 + input.Below(8));
                    else RingDriver.GetUsed(ref ring, ledger);
                    break;
                case 10:
                    ring.SuppressInterrupts();
                    break;
                case 11:
                    // used flags (NO_NOTIFY) and avail_event: what NeedsNotify reads.
                    *(ushort*)used = input.U16();
                    *(ushort*)(used + 4 + 8 * size) = input.U16();
                    break;
            }
            ledger.CheckAccounting(ring.FreeCount, size);
        }
        RingDriver.ReclaimAll(ref ring, ledger);
        // A reclaimed ring lends its whole size again, IN_ORDER too (fuzz/regressions/split-ring/inorder-reclaim).
        CheckWholeAgain(ref ring, availRing, size);
    }

    /// <summary>Lends every descriptor once more: the free list must hold each id exactly once.</summary>
    private static void CheckWholeAgain(ref SplitRing ring, ushort* availRing, int size)
    {
        Span<bool> seen = stackalloc bool[size];
        for (int i = 0; i < size; i++)
        {
            ushort position = ring.AvailIndex;
            InvariantException.Check(ring.AddBuffer(0x1000, 64, true, 1), "a whole ring refused a buffer");
            ushort id = availRing[position & (size - 1)];
            InvariantException.Check(id < size && !seen[id], "the free list handed out a descriptor id twice or out of range");
            seen[id] = true;
        }
        InvariantException.Check(!ring.AddBuffer(0x1000, 64, true, 1), "a full ring took one more buffer");
    }
}
