using Pmd.Memory;
using Pmd.Vfio;
using Pmd.Vfio.Nics.E1000e;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// e1000e-tx: E1000eTxQueue sending packets the input shapes (segments and their lengths, some
/// never sendable, some asking for checksums or TSO with whatever header lengths) while the
/// device's DD write-backs land on slots the input picks. Checked:
/// no more slots in flight than size - 1; Burst takes a prefix of what it is given; and after
/// Drain nothing is in flight and the pool has every mbuf back (none lost, none freed twice).
/// </summary>
internal sealed unsafe class E1000eTxTarget : FuzzTarget
{
    private readonly FuzzPools _pools = new("fuzz-e1000e-tx", 1024);
    private readonly Mbuf[] _packets = new Mbuf[16];

    public override string Name => "e1000e-tx";

    public override void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        byte b = input.U8();
        int size = 8 << (b % 6);
        int maxFrame = (b & 0x20) != 0 ? 9018 : 1518;
        var pool = _pools.Get();
        using var ringMemory = new NativeBlock(size * 16);
        using var registers = new NativeBlock(64);
        var tx = new E1000eTxQueue((E1000eTxDescriptor*)ringMemory.Pointer, size, new MmioWindow(registers.Pointer, 64), 0x18, maxFrame);
        int ops = 0;
        while (!input.IsEmpty && ops++ < 1024)
        {
            switch (input.Below(4))
            {
                case 0 or 1: Send(tx, pool, ref input); break;
                case 2:
                {
                    // DD on one slot, or on every slot up to one: a device finishing in order.
                    int slot = input.U8() % size;
                    int first = input.Bool() ? 0 : slot;
                    for (int s = first; s <= slot; s++) *(uint*)(ringMemory.Pointer + 16 * s + 12) |= 1;
                    break;
                }
                case 3: tx.Cleanup(); break;
            }
            InvariantException.Check(tx.InFlight >= 0 && tx.InFlight <= size - 1, "more slots in flight than the ring can hold");
        }
        tx.Drain();
        InvariantException.Check(tx.InFlight == 0, "slots still in flight after Drain");
        InvariantException.Check(pool.InUse == 0, "mbufs leaked (or freed twice): the pool's InUse is not 0 after Drain");
    }

    private void Send(E1000eTxQueue tx, Mempool pool, ref FuzzInput input)
    {
        int count = 1 + input.Below(_packets.Length);
        int made = 0;
        for (; made < count; made++)
        {
            var head = MakePacket(pool, ref input);
            if (head.IsNull) break;
            _packets[made] = head;
        }
        int taken = tx.Burst(_packets.AsSpan(0, made));
        InvariantException.Check(taken >= 0 && taken <= made, "Burst took more packets than it was given");
        // What Burst did not take is still the caller's.
        for (int i = taken; i < made; i++) _packets[i].Free();
    }

    /// <summary>A packet of 1 to 40 segments (over the queue's 32) whose lengths come from the input, 0 included.</summary>
    private static Mbuf MakePacket(Mempool pool, ref FuzzInput input)
    {
        int segments = 1 + input.Below(40);
        var head = default(Mbuf);
        for (int i = 0; i < segments; i++)
        {
            var m = pool.Alloc();
            if (m.IsNull) break;
            m.Append(Math.Min(input.U16() % 2100, m.Tailroom));
            if (head.IsNull) head = m;
            else head.Chain(m);
        }
        if (!head.IsNull && input.Bool()) AskOffloads(head, ref input);
        return head;
    }

    /// <summary>Offload flags and header lengths from the input, sense or not: the queue must check them before any reaches a descriptor.</summary>
    private static void AskOffloads(Mbuf head, ref FuzzInput input)
    {
        head.Flags = (OffloadFlags)((ulong)input.U8() << 50) & (OffloadFlags.TxOffloadMask | OffloadFlags.TxIpv4 | OffloadFlags.TxIpv6);
        head.L2Length = input.U8();
        head.L3Length = input.U8();
        head.L4Length = input.U8();
        head.TsoSegmentSize = input.U16();
        // Sometimes a plausible version nibble where the IP header would be.
        if (input.Bool() && head.L2Length < head.DataLength) head.Data[head.L2Length] = input.Bool() ? (byte)0x45 : (byte)0x60;
    }
}
