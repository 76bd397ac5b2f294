using System.Buffers.Binary;
using Pmd.TestSupport;

namespace Pmd.Vm.Tests;

/// <summary>
/// Pmd.TestSupport's test-frame layout (<see cref="Frames"/>) as plain byte arrays, for frames that
/// travel over the UDP wire rather than through mbufs: destination and source MAC, ethertype
/// 0x88B5, the 4-byte sequence, the 2-byte frame length, then pattern bytes.
/// </summary>
public static class TestFrames
{
    public const int MinSize = 64;
    public const int MaxSize = 1518;

    /// <summary>The largest jumbo test frame, the "9000 bytes" jumbo usually means (a NIC needs an MTU of 8982 or more for it).</summary>
    public const int JumboMaxSize = 9000;

    /// <summary>Every size from 64 to 1518 comes round once every 1455 frames.</summary>
    public static int SizeOf(uint seq) => MinSize + (int)(seq % (MaxSize - MinSize + 1));

    /// <summary>Frame <paramref name="index"/> of <paramref name="count"/> jumbo frames: sizes spread evenly over 1519..9000, both ends included.</summary>
    public static int JumboSizeOf(int index, int count) =>
        count <= 1 ? JumboMaxSize : MaxSize + 1 + (int)((long)index * (JumboMaxSize - MaxSize - 1) / (count - 1));

    public static byte[] Build(uint seq, int length, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination)
    {
        var f = new byte[length];
        destination.CopyTo(f);
        source.CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), Frames.EtherType);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14), seq);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), (ushort)length);
        for (int i = Frames.MinLength; i < length; i++) f[i] = Frames.PatternByte(seq, i);
        return f;
    }

    /// <summary>The sequence number of a test frame, or null when it is not one.</summary>
    public static uint? SequenceOf(ReadOnlySpan<byte> frame) =>
        frame.Length >= Frames.MinLength && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == Frames.EtherType
            ? BinaryPrimitives.ReadUInt32BigEndian(frame[14..])
            : null;

    /// <summary>Null when <paramref name="received"/> is <paramref name="sent"/> with its MAC addresses swapped, else what differs.</summary>
    public static string? MacSwapMismatch(ReadOnlySpan<byte> sent, ReadOnlySpan<byte> received)
    {
        if (received.Length != sent.Length) return $"{received.Length} bytes came back, {sent.Length} were sent";
        if (!received[..6].SequenceEqual(sent[6..12])) return $"destination MAC {Mac.Format(received[..6])} is not the sent source {Mac.Format(sent[6..12])}";
        if (!received[6..12].SequenceEqual(sent[..6])) return $"source MAC {Mac.Format(received[6..12])} is not the sent destination {Mac.Format(sent[..6])}";
        for (int i = 12; i < sent.Length; i++)
            if (received[i] != sent[i]) return $"byte {i} is 0x{received[i]:x2}, 0x{sent[i]:x2} was sent";
        return null;
    }
}

public static class Mac
{
    public static byte[] Parse(string text) => [.. text.Split(':').Select(h => Convert.ToByte(h, 16))];

    public static string Format(ReadOnlySpan<byte> mac) => Convert.ToHexString(mac).ToLowerInvariant() is var h
        ? string.Join(':', Enumerable.Range(0, mac.Length).Select(i => h.Substring(i * 2, 2)))
        : "";
}
