using Pmd.Memory;
using Pmd.Vfio;
using Pmd.Vfio.Nics.E1000e;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// e1000e-rx: E1000eRxQueue with the extended descriptor write-backs (length, status, errors, RSS type and hash, at the slot
/// the device would write next or at any slot) from the input. Checked: delivered frames are
/// well-formed chains no longer than MaxFrame, the queue never lends more than size - 1 slots,
/// and after Drain and freeing what was delivered the pool has every mbuf back.
/// </summary>
internal sealed unsafe class E1000eRxTarget : FuzzTarget
{
    private const ushort PortId = 3;
    private static readonly int[] BufferSizes = [256, 512, 1024, 2048];
    private readonly FuzzPools _pools = new("fuzz-e1000e-rx", 512);
    private readonly Mbuf[] _burst = new Mbuf[32];

    public override string Name => "e1000e-rx";

    public override void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        byte b = input.U8();
        int size = 8 << (b % 6);                       // 8..256 descriptors: the ring is a multiple of 128 bytes
        int bufferSize = BufferSizes[(b >> 3) & 3];
        int maxFrame = (b & 0x20) != 0 ? 9018 : 1518;
        var pool = _pools.Get();
        using var ringMemory = new NativeBlock(size * 16);
        using var registers = new NativeBlock(64);
        var ring = (E1000eRxDescriptor*)ringMemory.Pointer;
        var rx = new E1000eRxQueue(ring, size, pool, new MmioWindow(registers.Pointer, 64), 0x10, bufferSize, maxFrame, PortId, rss: (b & 0x40) != 0);
        rx.Refill();
        int head = 0, ops = 0;
        while (!input.IsEmpty && ops++ < 4096)
        {
            switch (input.Below(5))
            {
                case 0 or 1:
                {
                    // A write-back where the device writes next, usually; else at any slot.
                    byte how = input.U8();
                    int slot = (how & 1) != 0 ? input.U8() % size : head;
                    if (slot == head) head = (head + 1) % size;
                    ulong length = (how & 2) != 0 ? input.U16() : (ulong)input.U8() * 16;
                    ulong status = (how & 4) != 0 ? input.U8() : (how & 8) != 0 ? 0x3UL : 0x1UL;
                    ulong errors = (how & 16) != 0 ? input.U8() : 0UL;
                    // The first quadword: MRQ (any RSS type, valid or not) and the hash, or the lent address left alone.
                    if ((how & 32) != 0) Volatile.Write(ref *(ulong*)(ringMemory.Pointer + 16 * slot), (ulong)input.U8() | ((ulong)input.U16() << 32));
                    // The extended write-back's second quadword: status in bits 7:0, errors in 31:24, length in 47:32.
                    Volatile.Write(ref *(ulong*)(ringMemory.Pointer + 16 * slot + 8), status | (errors << 24) | (length << 32));
                    break;
                }
                case 2:
                    int n = rx.Burst(_burst.AsSpan(0, 1 + input.Below(_burst.Length)));
                    for (int i = 0; i < n; i++) CheckAndFree(_burst[i], rx.MaxFrame);
                    break;
                case 3: rx.Refill(); break;
                case 4: rx.MaxFrame = input.Bool() ? maxFrame : 64 + input.U16() % 9000; break;
            }
            InvariantException.Check(rx.LentCount is >= 0 && rx.LentCount <= size - 1, "more slots lent than the ring can hold");
        }
        rx.Drain();
        InvariantException.Check(rx.LentCount == 0, "slots still lent after Drain");
        InvariantException.Check(pool.InUse == 0, "mbufs leaked (or freed twice): the pool's InUse is not 0 after Drain");
    }

    private static void CheckAndFree(Mbuf m, int maxFrame)
    {
        InvariantException.Check(!m.IsNull, "Burst delivered a null mbuf");
        InvariantException.Check(m.Port == PortId, "a delivered frame has the wrong port");
        int segments = 0;
        long total = 0;
        for (var s = m; !s.IsNull; s = s.Next)
        {
            InvariantException.Check(++segments <= 1024, "a delivered chain does not end");
            InvariantException.Check(s.DataLength > 0 && s.DataOffset >= 0 && s.DataOffset + s.DataLength <= s.BufferLength,
                "a segment is empty or its data lies outside its buffer");
            total += s.DataLength;
        }
        InvariantException.Check(m.SegmentCount == segments, "SegmentCount is not the number of segments");
        InvariantException.Check(m.PacketLength == total, "PacketLength is not the sum of the segments' lengths");
        InvariantException.Check(m.PacketLength <= maxFrame, "a frame longer than MaxFrame was delivered");
        m.Free();
    }
}
