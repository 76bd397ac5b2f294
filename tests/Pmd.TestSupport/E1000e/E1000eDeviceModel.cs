using System.Runtime.InteropServices;
using Pmd.Vfio;

namespace Pmd.TestSupport.E1000e;

/// <summary>
/// The device side of an 82574's descriptor rings, in process, for unit tests: a register file the
/// driver writes its tails into, and a receiver and transmitter that walk the rings from their
/// heads to those tails as the datasheet describes (DD written back, EOP on a frame's last
/// descriptor, buffer addresses read as IOVA = VA; on TX, legacy and extended data descriptors and
/// context descriptors, whose last one applies to the frames after it). It keeps its own copy of
/// the layout, so the driver's descriptor structs are checked against it, not against themselves.
/// It can also lie: raw write-backs anywhere, lengths beyond the buffer, completions that never come.
/// </summary>
internal sealed unsafe class E1000eDeviceModel : IDisposable
{
    public const uint Rdh = 0x2810, Rdt = 0x2818, Tdh = 0x3810, Tdt = 0x3818;
    private const int DescriptorSize = 16;
    private const int RegisterFileSize = 128 * 1024;

    private readonly byte* _registers;
    private byte* _rxRing;
    private int _rxSize;
    private int _rxBufferSize;
    private byte* _txRing;
    private int _txSize;
    private readonly byte[] _context = new byte[DescriptorSize];

    public E1000eDeviceModel()
    {
        _registers = (byte*)NativeMemory.AllocZeroed(RegisterFileSize);
        Registers = new MmioWindow(_registers, RegisterFileSize);
    }

    /// <summary>BAR 0 as the driver sees it.</summary>
    public MmioWindow Registers { get; }

    public int RxHead { get; private set; }

    public int TxHead { get; private set; }

    /// <summary>Frames that found no lent descriptor (the MPC counter of a real device).</summary>
    public int RxMissed { get; private set; }

    public void AttachRx(void* ring, int size, int bufferSize)
    {
        _rxRing = (byte*)ring;
        _rxSize = size;
        _rxBufferSize = bufferSize;
        RxHead = 0;
    }

    public void AttachTx(void* ring, int size)
    {
        _txRing = (byte*)ring;
        _txSize = size;
        TxHead = 0;
    }

    private uint Read(uint offset) => Volatile.Read(ref *(uint*)(_registers + offset));

    private void Write(uint offset, uint value) => Volatile.Write(ref *(uint*)(_registers + offset), value);

    /// <summary>Descriptors lent to the receiver: from head up to (not including) the tail.</summary>
    public int RxLent => ((int)Read(Rdt) - RxHead + _rxSize) % _rxSize;

    /// <summary>
    /// Receives <paramref name="frame"/> into as many lent buffers as it needs, EOP on the last, DD
    /// on each; false (and counted as missed) when too few are lent. Allocates nothing.
    /// </summary>
    public bool Receive(ReadOnlySpan<byte> frame, byte errors = 0)
    {
        int needed = Math.Max(1, (frame.Length + _rxBufferSize - 1) / _rxBufferSize);
        if (needed > RxLent)
        {
            RxMissed++;
            return false;
        }
        int offset = 0;
        for (int i = 0; i < needed; i++)
        {
            byte* d = _rxRing + RxHead * DescriptorSize;
            byte* buffer = (byte*)*(ulong*)d;
            int part = Math.Min(_rxBufferSize, frame.Length - offset);
            frame.Slice(offset, part).CopyTo(new Span<byte>(buffer, part));
            offset += part;
            bool last = i == needed - 1;
            WriteBackRx(RxHead, (ushort)part, (byte)(0x01 | (last ? 0x02 : 0)), last ? errors : (byte)0);
            RxHead = (RxHead + 1) % _rxSize;
        }
        Write(Rdh, (uint)RxHead);
        return true;
    }

    /// <summary>Writes a receive write-back (length, status, errors) into <paramref name="slot"/>, whether lent or not.</summary>
    public void WriteBackRx(int slot, ushort length, byte status, byte errors)
    {
        byte* d = _rxRing + slot * DescriptorSize;
        *(ushort*)(d + 8) = length;
        *(ushort*)(d + 10) = 0;
        d[13] = errors;
        *(ushort*)(d + 14) = 0;
        Volatile.Write(ref d[12], status);
    }

    /// <summary>Writes <paramref name="bytes"/> into the buffer lent at the head and hands it back with the given write-back: a device that lies about one descriptor.</summary>
    public void ReceiveRaw(ReadOnlySpan<byte> bytes, ushort length, byte status, byte errors = 0)
    {
        byte* d = _rxRing + RxHead * DescriptorSize;
        bytes[..Math.Min(bytes.Length, _rxBufferSize)].CopyTo(new Span<byte>((byte*)*(ulong*)d, _rxBufferSize));
        WriteBackRx(RxHead, length, status, errors);
        RxHead = (RxHead + 1) % _rxSize;
        Write(Rdh, (uint)RxHead);
    }

    /// <summary>Descriptors queued for transmit: from head up to the tail.</summary>
    public int TxQueued => ((int)Read(Tdt) - TxHead + _txSize) % _txSize;

    /// <summary>Context descriptors the transmitter has read.</summary>
    public int TxContexts { get; private set; }

    /// <summary>A frame as the transmitter gathered it, with what its descriptors asked: POPTS and the command of its last data descriptor, and the context then in force (16 bytes, null before any).</summary>
    public sealed record TxFrame(byte[] Bytes, bool Extended, byte Command, byte Options, byte[]? Context);

    private static bool IsContext(byte* d) => (d[11] & 0x20) != 0 && (d[10] & 0xF0) == 0;

    private static bool IsExtended(byte* d) => (d[11] & 0x20) != 0;

    private static int DataLength(byte* d) => IsExtended(d) ? (int)(*(uint*)(d + 8) & 0xF_FFFF) : *(ushort*)(d + 8);

    /// <summary>As <see cref="Transmit(int, Action{byte[]})"/>, each frame with its descriptors' requests.</summary>
    public int TransmitFrames(Action<TxFrame> sink, int maxFrames = int.MaxValue)
    {
        bool haveContext = false;
        return TransmitCore(maxFrames, (bytes, last) =>
        {
            haveContext |= TxContexts > 0;
            sink(new TxFrame(bytes, IsExtended(last), last[11], last[13], haveContext ? (byte[])_context.Clone() : null));
        });
    }

    /// <summary>
    /// Sends up to <paramref name="maxFrames"/> queued frames: gathers each frame's buffers up to
    /// EOP into <paramref name="sink"/> (null: discard, allocating nothing) and sets DD where RS
    /// asks. Returns the frames sent; a frame whose EOP is not queued yet waits.
    /// </summary>
    public int Transmit(int maxFrames = int.MaxValue, Action<byte[]>? sink = null) =>
        TransmitCore(maxFrames, sink is null ? null : BytesOnly(sink));

    // Its own method: a lambda in Transmit would allocate its closure on every call, sink or not.
    private static FrameSink BytesOnly(Action<byte[]> sink) => (bytes, _) => sink(bytes);

    private delegate void FrameSink(byte[] bytes, byte* lastDescriptor);

    private int TransmitCore(int maxFrames, FrameSink? sink)
    {
        int sent = 0;
        while (sent < maxFrames)
        {
            int queued = TxQueued, count = 0, length = 0;
            bool complete = false;
            while (count < queued)
            {
                byte* d = _txRing + ((TxHead + count) % _txSize) * DescriptorSize;
                count++;
                if (IsContext(d)) continue;   // its length field is TSO's PAYLEN, its TCP bit no EOP
                length += DataLength(d);
                if ((d[11] & 0x01) != 0) { complete = true; break; }
            }
            if (!complete) break;
            byte[]? frame = sink is null ? null : new byte[length];
            int at = 0;
            byte* lastData = null;
            for (int i = 0; i < count; i++)
            {
                byte* d = _txRing + TxHead * DescriptorSize;
                TxHead = (TxHead + 1) % _txSize;
                if (IsContext(d))
                {
                    new ReadOnlySpan<byte>(d, DescriptorSize).CopyTo(_context);
                    TxContexts++;
                    continue;
                }
                int part = DataLength(d);
                if (frame is not null) new ReadOnlySpan<byte>((byte*)*(ulong*)d, part).CopyTo(frame.AsSpan(at));
                at += part;
                lastData = d;
                if ((d[11] & 0x08) != 0) Volatile.Write(ref d[12], (byte)(d[12] | 0x01));
            }
            Write(Tdh, (uint)TxHead);
            if (frame is not null) sink!(frame, lastData);
            sent++;
        }
        return sent;
    }

    /// <summary>The command byte and length of the transmit descriptor in <paramref name="slot"/>.</summary>
    public (byte Command, int Length) TxDescriptor(int slot)
    {
        byte* d = _txRing + slot * DescriptorSize;
        return (d[11], *(ushort*)(d + 8));
    }

    /// <summary>The 16 bytes of the transmit descriptor in <paramref name="slot"/>.</summary>
    public byte[] TxDescriptorBytes(int slot) => new ReadOnlySpan<byte>(_txRing + slot * DescriptorSize, DescriptorSize).ToArray();

    public void Dispose() => NativeMemory.Free(_registers);
}
