using System.Runtime.InteropServices;
using Pmd.Vfio;

namespace Pmd.TestSupport.E1000e;

/// <summary>
/// The device side of an 82574's descriptor rings, in process, for unit tests: a register file the
/// driver writes its tails into, and a receiver and transmitter that walk the rings from their
/// heads to those tails as the datasheet describes (DD written back, EOP on a frame's last
/// descriptor, buffer addresses read as IOVA = VA; RX in extended descriptors, on either of two
/// queues, RSS as QEMU computes it from the registers the driver wrote; on TX, two queues of legacy
/// and extended data descriptors and context descriptors, whose last one applies to the frames after it, per queue). It keeps its own copy of
/// the layout, so the driver's descriptor structs are checked against it, not against themselves.
/// It can also lie: raw write-backs anywhere, lengths beyond the buffer, completions that never come.
/// </summary>
internal sealed unsafe class E1000eDeviceModel : IDisposable
{
    public const uint Rdh = 0x2810, Rdt = 0x2818, Tdh = 0x3810, Tdt = 0x3818;
    public const uint Rdbal = 0x2800, Rdlen = 0x2808, Tdbal = 0x3800, Tdlen = 0x3808, QueueStride = 0x100;
    public const uint Rxcsum = 0x5000, Rfctl = 0x5008, Mrqc = 0x5818, Reta = 0x5C00, Rssrk = 0x5C80;
    public const int Queues = 2;
    private const int DescriptorSize = 16;
    private const int RegisterFileSize = 128 * 1024;

    private readonly byte* _registers;
    private readonly byte*[] _rxRing = new byte*[Queues];
    private readonly int[] _rxSize = new int[Queues];
    private readonly int[] _rxHead = new int[Queues];
    private readonly int[] _rxMissed = new int[Queues];
    private int _rxBufferSize;
    private readonly byte*[] _txRing = new byte*[Queues];
    private readonly int[] _txSize = new int[Queues];
    private readonly int[] _txHead = new int[Queues];
    private readonly int[] _txContexts = new int[Queues];
    private readonly byte[][] _context = [new byte[DescriptorSize], new byte[DescriptorSize]];
    private readonly uint[] _reta = new uint[32];
    private readonly byte[] _key = new byte[40];

    public E1000eDeviceModel()
    {
        _registers = (byte*)NativeMemory.AllocZeroed(RegisterFileSize);
        Registers = new MmioWindow(_registers, RegisterFileSize);
    }

    /// <summary>BAR 0 as the driver sees it.</summary>
    public MmioWindow Registers { get; }

    public int RxHead => _rxHead[0];

    public int RxHeadOf(int queue) => _rxHead[queue];

    public int TxHead => _txHead[0];

    /// <summary>Frames that found no lent descriptor (the MPC counter of a real device).</summary>
    public int RxMissed => _rxMissed[0] + _rxMissed[1];

    public void AttachRx(void* ring, int size, int bufferSize, int queue = 0)
    {
        _rxRing[queue] = (byte*)ring;
        _rxSize[queue] = size;
        _rxBufferSize = bufferSize;
        _rxHead[queue] = 0;
    }

    public void AttachTx(void* ring, int size, int queue = 0)
    {
        _txRing[queue] = (byte*)ring;
        _txSize[queue] = size;
        _txHead[queue] = 0;
    }

    /// <summary>Finds the rings where the driver's registers say they are (IOVA = VA here): every queue with a length set.</summary>
    public void AttachFromRegisters(int bufferSize)
    {
        for (int q = 0; q < Queues; q++)
        {
            uint stride = (uint)q * QueueStride;
            if (Read(Rdlen + stride) != 0)
                AttachRx((void*)(nint)(Read(Rdbal + stride) | (ulong)Read(Rdbal + 4 + stride) << 32), (int)Read(Rdlen + stride) / DescriptorSize, bufferSize, q);
            if (Read(Tdlen + stride) != 0)
                AttachTx((void*)(nint)(Read(Tdbal + stride) | (ulong)Read(Tdbal + 4 + stride) << 32), (int)Read(Tdlen + stride) / DescriptorSize, q);
        }
    }

    public uint Read(uint offset) => Volatile.Read(ref *(uint*)(_registers + offset));

    public void Write(uint offset, uint value) => Volatile.Write(ref *(uint*)(_registers + offset), value);

    /// <summary>Descriptors lent to receive queue <paramref name="queue"/>: from head up to (not including) the tail.</summary>
    public int RxLentOf(int queue) => ((int)Read(Rdt + (uint)queue * QueueStride) - _rxHead[queue] + _rxSize[queue]) % _rxSize[queue];

    public int RxLent => RxLentOf(0);

    /// <summary>RSS as QEMU turns it on: MRQC bits 1:0 = 01, RXCSUM.PCSD and RFCTL.EXTEN.</summary>
    public bool RssEnabled => (Read(Mrqc) & 3) == 1 && (Read(Rxcsum) & (1u << 13)) != 0 && (Read(Rfctl) & (1u << 15)) != 0;

    /// <summary>The queue, RSS type and hash QEMU would give <paramref name="frame"/> under the registers as they are now.</summary>
    public (int Queue, uint Type, uint Hash) Classify(ReadOnlySpan<byte> frame)
    {
        if (!RssEnabled) return (0, 0, 0);
        for (int i = 0; i < _reta.Length; i++) _reta[i] = Read(Reta + 4 * (uint)i);
        for (int i = 0; i < _key.Length; i++) _key[i] = (byte)(Read(Rssrk + (uint)(i & ~3)) >> (8 * (i & 3)));
        var (type, hash) = E1000eRssModel.Of(frame, Read(Mrqc), _key);
        return type == 0 ? (0, 0, 0) : (E1000eRssModel.QueueOf(hash, _reta), type, hash);
    }

    /// <summary>
    /// Receives <paramref name="frame"/> into as many lent buffers as it needs, EOP on the last, DD
    /// on each, on the queue RSS picks (queue 0 without RSS), the RSS type and hash in the last
    /// descriptor; false (and counted as missed) when too few are lent. Allocates nothing, RSS or not.
    /// </summary>
    public bool Receive(ReadOnlySpan<byte> frame, byte errors = 0)
    {
        var (queue, type, hash) = Classify(frame);
        int needed = Math.Max(1, (frame.Length + _rxBufferSize - 1) / _rxBufferSize);
        if (needed > RxLentOf(queue))
        {
            _rxMissed[queue]++;
            return false;
        }
        int offset = 0;
        for (int i = 0; i < needed; i++)
        {
            int head = _rxHead[queue];
            byte* d = _rxRing[queue] + head * DescriptorSize;
            byte* buffer = (byte*)*(ulong*)d;
            int part = Math.Min(_rxBufferSize, frame.Length - offset);
            frame.Slice(offset, part).CopyTo(new Span<byte>(buffer, part));
            offset += part;
            bool last = i == needed - 1;
            WriteBackRx(head, (ushort)part, (byte)(0x01 | (last ? 0x02 : 0)), last ? errors : (byte)0, queue,
                last ? type | (uint)queue << 8 : 0, last ? hash : 0);
            _rxHead[queue] = (head + 1) % _rxSize[queue];
        }
        Write(Rdh + (uint)queue * QueueStride, (uint)_rxHead[queue]);
        return true;
    }

    /// <summary>
    /// Writes an extended receive write-back into <paramref name="slot"/>, whether lent or not: the
    /// MRQ dword and RSS hash, then length and VLAN, and last the status dword (DD, errors in bits 31:24).
    /// </summary>
    public void WriteBackRx(int slot, ushort length, byte status, byte errors, int queue = 0, uint mrq = 0, uint rss = 0)
    {
        byte* d = _rxRing[queue] + slot * DescriptorSize;
        *(uint*)d = mrq;
        *(uint*)(d + 4) = rss;
        *(ushort*)(d + 12) = length;
        *(ushort*)(d + 14) = 0;
        Volatile.Write(ref *(uint*)(d + 8), status | (uint)errors << 24);
    }

    /// <summary>Writes <paramref name="bytes"/> into the buffer lent at the head and hands it back with the given write-back: a device that lies about one descriptor.</summary>
    public void ReceiveRaw(ReadOnlySpan<byte> bytes, ushort length, byte status, byte errors = 0, int queue = 0, uint mrq = 0, uint rss = 0)
    {
        int head = _rxHead[queue];
        byte* d = _rxRing[queue] + head * DescriptorSize;
        bytes[..Math.Min(bytes.Length, _rxBufferSize)].CopyTo(new Span<byte>((byte*)*(ulong*)d, _rxBufferSize));
        WriteBackRx(head, length, status, errors, queue, mrq, rss);
        _rxHead[queue] = (head + 1) % _rxSize[queue];
        Write(Rdh + (uint)queue * QueueStride, (uint)_rxHead[queue]);
    }

    /// <summary>Descriptors queued for transmit on <paramref name="queue"/>: from head up to the tail.</summary>
    public int TxQueuedOf(int queue) => ((int)Read(Tdt + (uint)queue * QueueStride) - _txHead[queue] + _txSize[queue]) % _txSize[queue];

    public int TxQueued => TxQueuedOf(0);

    /// <summary>Context descriptors the transmitter has read (queue 0's; <see cref="TxContextsOf"/> for either).</summary>
    public int TxContexts => _txContexts[0];

    public int TxContextsOf(int queue) => _txContexts[queue];

    /// <summary>A frame as the transmitter gathered it, with what its descriptors asked: POPTS and the command of its last data descriptor, and the context then in force (16 bytes, null before any).</summary>
    public sealed record TxFrame(byte[] Bytes, bool Extended, byte Command, byte Options, byte[]? Context);

    private static bool IsContext(byte* d) => (d[11] & 0x20) != 0 && (d[10] & 0xF0) == 0;

    private static bool IsExtended(byte* d) => (d[11] & 0x20) != 0;

    private static int DataLength(byte* d) => IsExtended(d) ? (int)(*(uint*)(d + 8) & 0xF_FFFF) : *(ushort*)(d + 8);

    /// <summary>As <see cref="Transmit(int, Action{byte[]}, int)"/>, each frame with its descriptors' requests; each queue has its own context, as the 82574's.</summary>
    public int TransmitFrames(Action<TxFrame> sink, int maxFrames = int.MaxValue, int queue = 0)
    {
        bool haveContext = false;
        return TransmitCore(queue, maxFrames, (bytes, last) =>
        {
            haveContext |= _txContexts[queue] > 0;
            sink(new TxFrame(bytes, IsExtended(last), last[11], last[13], haveContext ? (byte[])_context[queue].Clone() : null));
        });
    }

    /// <summary>
    /// Sends up to <paramref name="maxFrames"/> frames queued on <paramref name="queue"/>: gathers each
    /// frame's buffers up to EOP into <paramref name="sink"/> (null: discard, allocating nothing) and
    /// sets DD where RS asks. Returns the frames sent; a frame whose EOP is not queued yet waits.
    /// </summary>
    public int Transmit(int maxFrames = int.MaxValue, Action<byte[]>? sink = null, int queue = 0) =>
        TransmitCore(queue, maxFrames, sink is null ? null : BytesOnly(sink));

    // Its own method: a lambda in Transmit would allocate its closure on every call, sink or not.
    private static FrameSink BytesOnly(Action<byte[]> sink) => (bytes, _) => sink(bytes);

    private delegate void FrameSink(byte[] bytes, byte* lastDescriptor);

    private int TransmitCore(int queue, int maxFrames, FrameSink? sink)
    {
        byte* ring = _txRing[queue];
        int size = _txSize[queue];
        int sent = 0;
        while (sent < maxFrames)
        {
            int queued = TxQueuedOf(queue), count = 0, length = 0;
            bool complete = false;
            while (count < queued)
            {
                byte* d = ring + ((_txHead[queue] + count) % size) * DescriptorSize;
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
                byte* d = ring + _txHead[queue] * DescriptorSize;
                _txHead[queue] = (_txHead[queue] + 1) % size;
                if (IsContext(d))
                {
                    new ReadOnlySpan<byte>(d, DescriptorSize).CopyTo(_context[queue]);
                    _txContexts[queue]++;
                    continue;
                }
                int part = DataLength(d);
                if (frame is not null) new ReadOnlySpan<byte>((byte*)*(ulong*)d, part).CopyTo(frame.AsSpan(at));
                at += part;
                lastData = d;
                if ((d[11] & 0x08) != 0) Volatile.Write(ref d[12], (byte)(d[12] | 0x01));
            }
            Write(Tdh + (uint)queue * QueueStride, (uint)_txHead[queue]);
            if (frame is not null) sink!(frame, lastData);
            sent++;
        }
        return sent;
    }

    /// <summary>The command byte and length of the transmit descriptor in <paramref name="slot"/> of queue 0.</summary>
    public (byte Command, int Length) TxDescriptor(int slot)
    {
        byte* d = _txRing[0] + slot * DescriptorSize;
        return (d[11], *(ushort*)(d + 8));
    }

    /// <summary>The 16 bytes of the transmit descriptor in <paramref name="slot"/> of queue 0.</summary>
    public byte[] TxDescriptorBytes(int slot) => new ReadOnlySpan<byte>(_txRing[0] + slot * DescriptorSize, DescriptorSize).ToArray();

    public void Dispose() => NativeMemory.Free(_registers);
}
