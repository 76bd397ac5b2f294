using Pmd.Memory;
using Pmd.VirtioNet.Net;
using Pmd.VirtioNet.Rings;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// rx-mergeable: VirtioRxQueue over a split or packed ring (with IN_ORDER the slotted SplitRxRing or PackedRxRing), with the device's used entries, their
/// lengths and the virtio-net headers (num_buffers) in the buffers from the input. Checked: every
/// delivered frame is a well-formed chain inside its buffers whose PacketLength is the sum of its
/// segments, and after Drain and freeing what was delivered, the pool has every mbuf back.
/// </summary>
internal sealed unsafe class MergeableRxTarget : FuzzTarget
{
    private const ushort PortId = 5;
    private readonly FuzzPools _pools = new("fuzz-rx", 512);
    private readonly FuzzTransport _transport = new();
    private readonly Mbuf[] _burst = new Mbuf[32];

    public override string Name => "rx-mergeable";

    public override void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        byte b = input.U8();
        int size = 1 << (b & 7);
        bool packed = (b & 8) != 0, mergeable = (b & 16) != 0, csum = (b & 32) != 0;
        var features = new RingFeatures(EventIndex: (b & 128) != 0, InOrder: (b & 64) != 0, IndirectDescriptors: false);
        var pool = _pools.Get();
        using var memory = new NativeBlock(packed ? PackedRingLayout.For(size).TotalBytes : SplitRingLayout.For(size).TotalBytes);
        // As the port picks them: IN_ORDER gives the rings whose ids are slots, on either path.
        var slotted = features with { Vectorized = features.InOrder && (input.U8() & 1) != 0 && VectorPath.IsSupported };
        if (packed && features.InOrder)
            Drive(new VirtioRxQueue<PackedRxRing>(new PackedRxRing(memory.Pointer, size, slotted), pool, _transport, 0, PortId, mergeable, csum),
                new PackedRxDevice(memory.Pointer, size), pool, ref input);
        else if (packed)
            Drive(new VirtioRxQueue<PackedRing>(new PackedRing(memory.Pointer, size, features), pool, _transport, 0, PortId, mergeable, csum),
                new PackedRxDevice(memory.Pointer, size), pool, ref input);
        else if (features.InOrder)
            Drive(new VirtioRxQueue<SplitRxRing>(new SplitRxRing(memory.Pointer, size, slotted), pool, _transport, 0, PortId, mergeable, csum),
                new SplitRxDevice(memory.Pointer, size), pool, ref input);
        else
            Drive(new VirtioRxQueue<SplitRing>(new SplitRing(memory.Pointer, size, features), pool, _transport, 0, PortId, mergeable, csum),
                new SplitRxDevice(memory.Pointer, size), pool, ref input);
        InvariantException.Check(pool.InUse == 0, "mbufs leaked (or freed twice): the pool's InUse is not 0 after Drain");
    }

    private void Drive(VirtioRxQueue rx, IRxDevice device, Mempool pool, ref FuzzInput input)
    {
        rx.Refill();
        device.LearnPosted();
        int ops = 0;
        while (!input.IsEmpty && ops++ < 4096)
        {
            switch (input.Below(6))
            {
                case 0 or 1 or 2: Complete(device, pool, ref input); break;
                case 3:
                    int n = rx.Burst(_burst.AsSpan(0, 1 + input.Below(_burst.Length)));
                    for (int i = 0; i < n; i++) CheckAndFree(_burst[i]);
                    device.LearnPosted();
                    break;
                case 4:
                    rx.Refill();
                    device.LearnPosted();
                    break;
                case 5: device.Scribble(ref input); break;
            }
        }
        rx.Drain();
    }

    /// <summary>
    /// One used entry. Usually for a buffer the driver posted, with a header written into it where
    /// a device writes one; its length near the header size or anything.
    /// </summary>
    private static void Complete(IRxDevice device, Mempool pool, ref FuzzInput input)
    {
        byte how = input.U8();
        uint id = (how & 1) != 0 ? input.U16() : device.PostedId(input.U8());
        ulong address = device.AddressOf(id);
        if ((how & 2) != 0 && address != 0 && pool.Region.Contains((nint)address, VirtioNetHeader.Size))
        {
            var header = (VirtioNetHeader*)address;
            header->Flags = input.U8();
            header->NumBuffers = (how & 4) != 0 ? input.U16() : (ushort)input.Below(4);
        }
        uint length = (how & 8) != 0 ? input.U32() : (uint)(VirtioNetHeader.Size - 2 + input.U8());
        device.Complete(id, length);
    }

    private static void CheckAndFree(Mbuf m)
    {
        InvariantException.Check(!m.IsNull, "Burst delivered a null mbuf");
        InvariantException.Check(m.Port == PortId, "a delivered frame has the wrong port");
        int segments = 0;
        long total = 0;
        for (var s = m; !s.IsNull; s = s.Next)
        {
            InvariantException.Check(++segments <= 512, "a delivered chain does not end");
            InvariantException.Check(s.DataLength >= 0 && s.DataOffset >= 0 && s.DataOffset + s.DataLength <= s.BufferLength,
                "a segment's data lies outside its buffer");
            total += s.DataLength;
        }
        InvariantException.Check(m.SegmentCount == segments, "SegmentCount is not the number of segments");
        InvariantException.Check(m.PacketLength == total, "PacketLength is not the sum of the segments' lengths");
        m.Free();
    }
}
