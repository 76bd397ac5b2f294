using System.Buffers.Binary;
using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>macswap: swaps the Ethernet source and destination, so a frame goes back where it came from.</summary>
internal sealed class MacSwapEngine : ForwardEngine
{
    public override ForwardMode Mode => ForwardMode.MacSwap;

    public override void ForwardBurst(ForwardStream stream, Span<Mbuf> burst)
    {
        int n = Receive(stream, burst);
        if (n == 0) return;
        for (int i = 0; i < n; i++)
        {
            var frame = burst[i].Data;
            if (frame.Length < 12) continue;
            // Two 6-byte fields as a 4+2-byte pair each: plain loads and stores, no temporary buffer.
            uint dstHigh = BinaryPrimitives.ReadUInt32LittleEndian(frame);
            ushort dstLow = BinaryPrimitives.ReadUInt16LittleEndian(frame[4..]);
            uint srcHigh = BinaryPrimitives.ReadUInt32LittleEndian(frame[6..]);
            ushort srcLow = BinaryPrimitives.ReadUInt16LittleEndian(frame[10..]);
            BinaryPrimitives.WriteUInt32LittleEndian(frame, srcHigh);
            BinaryPrimitives.WriteUInt16LittleEndian(frame[4..], srcLow);
            BinaryPrimitives.WriteUInt32LittleEndian(frame[6..], dstHigh);
            BinaryPrimitives.WriteUInt16LittleEndian(frame[10..], dstLow);
        }
        Transmit(stream, burst[..n]);
    }
}
