using System.Buffers.Binary;
using System.Text;
using Pmd.Ethdev;

namespace Pmd.Capture;

/// <summary>
/// Writes pcapng (the IETF draft "PCAP Next Generation Capture File Format"), little-endian, one
/// section: the Section Header Block, an Interface Description Block per port (Ethernet,
/// nanosecond timestamps), Enhanced Packet Blocks with the direction and the queue, and Interface
/// Statistics Blocks. Every block is Block Type, Block Total Length, a body, options (code, length,
/// value padded to 32 bits, ended by opt_endofopt) and the Block Total Length again.
/// </summary>
internal sealed class PcapngWriter(Stream stream)
{
    public const uint SectionHeaderType = 0x0A0D0D0A;
    public const uint InterfaceDescriptionType = 1;
    public const uint InterfaceStatisticsType = 5;
    public const uint EnhancedPacketType = 6;
    public const uint ByteOrderMagic = 0x1A2B3C4D;
    public const ushort LinkTypeEthernet = 1;

    /// <summary>if_tsresol 9: timestamps count nanoseconds since 1970-01-01 00:00:00 UTC.</summary>
    public const byte NanosecondResolution = 9;

    /// <summary>epb_flags bits 0-1: 01 inbound, 10 outbound.</summary>
    public const uint FlagInbound = 1, FlagOutbound = 2;

    private const ushort OptEndOfOpt = 0;
    private const ushort ShbHardware = 2, ShbOs = 3, ShbUserAppl = 4;
    private const ushort IfName = 2, IfDescription = 3, IfMacAddr = 6, IfSpeed = 8, IfTsResol = 9;
    private const ushort EpbFlags = 2, EpbQueue = 6;
    private const ushort IsbStartTime = 2, IsbEndTime = 3, IsbIfRecv = 4, IsbIfDrop = 5, IsbUsrDeliv = 8;

    /// <summary>An EPB's fixed fields before the packet data: type, length, interface, timestamp, two lengths.</summary>
    private const int EpbHeader = 28;

    /// <summary>An EPB's options and trailer: epb_flags, epb_queue, opt_endofopt, Block Total Length.</summary>
    private const int EpbTrailer = 8 + 8 + 4 + 4;

    private readonly byte[] _packetHeader = new byte[EpbHeader];
    private readonly byte[] _packetTrailer = new byte[3 + EpbTrailer];

    public long BytesWritten { get; private set; }

    public void WriteSectionHeader(string? hardware, string? os, string? application)
    {
        var block = new Block(SectionHeaderType);
        block.U32(ByteOrderMagic);
        block.U16(1); // major version
        block.U16(0); // minor version
        block.U64(ulong.MaxValue); // section length: not given (-1)
        block.Text(ShbHardware, hardware);
        block.Text(ShbOs, os);
        block.Text(ShbUserAppl, application);
        Write(block.Finish());
    }

    public void WriteInterfaceDescription(int snapLength, string name, string? description, MacAddress? mac, ulong? bitsPerSecond)
    {
        var block = new Block(InterfaceDescriptionType);
        block.U16(LinkTypeEthernet);
        block.U16(0); // reserved
        block.U32((uint)snapLength);
        block.Text(IfName, name);
        block.Text(IfDescription, description);
        if (mac is { } m)
        {
            Span<byte> bytes = stackalloc byte[6];
            m.CopyTo(bytes);
            block.Option(IfMacAddr, bytes);
        }
        if (bitsPerSecond is { } speed) block.Option64(IfSpeed, speed);
        block.Option(IfTsResol, [NanosecondResolution]);
        Write(block.Finish());
    }

    /// <summary>One packet: what was kept of it, its length on the wire, when, which way and on which queue.</summary>
    public void WritePacket(int interfaceId, ulong timestampNs, ReadOnlySpan<byte> data, int originalLength, CaptureDirection direction, int queue)
    {
        int padding = (4 - (data.Length & 3)) & 3;
        int total = EpbHeader + data.Length + padding + EpbTrailer;
        Span<byte> h = _packetHeader;
        BinaryPrimitives.WriteUInt32LittleEndian(h, EnhancedPacketType);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)total);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], (uint)interfaceId);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)(timestampNs >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)timestampNs);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(h[24..], (uint)originalLength);
        stream.Write(h);
        stream.Write(data);

        Span<byte> t = _packetTrailer.AsSpan(0, padding + EpbTrailer);
        t[..padding].Clear();
        var o = t[padding..];
        BinaryPrimitives.WriteUInt16LittleEndian(o, EpbFlags);
        BinaryPrimitives.WriteUInt16LittleEndian(o[2..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(o[4..], direction == CaptureDirection.Rx ? FlagInbound : FlagOutbound);
        BinaryPrimitives.WriteUInt16LittleEndian(o[8..], EpbQueue);
        BinaryPrimitives.WriteUInt16LittleEndian(o[10..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(o[12..], (uint)queue);
        BinaryPrimitives.WriteUInt32LittleEndian(o[16..], OptEndOfOpt); // code 0, length 0
        BinaryPrimitives.WriteUInt32LittleEndian(o[20..], (uint)total);
        stream.Write(t);
        BytesWritten += total;
    }

    /// <summary>
    /// The counters of one interface at <paramref name="timestampNs"/>: isb_starttime and
    /// isb_endtime, isb_ifrecv (packets the capture saw), isb_ifdrop (those its full ring could not
    /// take) and isb_usrdeliv (those written to the file).
    /// </summary>
    public void WriteInterfaceStatistics(int interfaceId, ulong timestampNs, ulong startNs, ulong endNs, ulong received, ulong dropped, ulong delivered)
    {
        var block = new Block(InterfaceStatisticsType);
        block.U32((uint)interfaceId);
        block.Timestamp(timestampNs);
        block.OptionTimestamp(IsbStartTime, startNs);
        block.OptionTimestamp(IsbEndTime, endNs);
        block.Option64(IsbIfRecv, received);
        block.Option64(IsbIfDrop, dropped);
        block.Option64(IsbUsrDeliv, delivered);
        Write(block.Finish());
    }

    public void Flush() => stream.Flush();

    private void Write(byte[] block)
    {
        stream.Write(block);
        BytesWritten += block.Length;
    }

    /// <summary>A control-path block (header, interface, statistics) built in memory.</summary>
    private sealed class Block(uint type)
    {
        private readonly List<byte> _body = [];
        private bool _hasOptions;

        public void U16(ushort v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); Add(b); }

        public void U32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); Add(b); }

        public void U64(ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); Add(b); }

        /// <summary>A timestamp as pcapng stores it: the upper 32 bits, then the lower 32 bits.</summary>
        public void Timestamp(ulong units)
        {
            U32((uint)(units >> 32));
            U32((uint)units);
        }

        public void Text(ushort code, string? value)
        {
            if (string.IsNullOrEmpty(value)) return;
            Option(code, Encoding.UTF8.GetBytes(value));
        }

        public void Option64(ushort code, ulong value)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, value);
            Option(code, b);
        }

        public void OptionTimestamp(ushort code, ulong units)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)(units >> 32));
            BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)units);
            Option(code, b);
        }

        public void Option(ushort code, ReadOnlySpan<byte> value)
        {
            // An option's value is at most 65535 bytes; longer text is cut (names and descriptions are short).
            if (value.Length > ushort.MaxValue) value = value[..ushort.MaxValue];
            _hasOptions = true;
            U16(code);
            U16((ushort)value.Length);
            Add(value);
            for (int pad = (4 - (value.Length & 3)) & 3; pad > 0; pad--) _body.Add(0);
        }

        public byte[] Finish()
        {
            if (_hasOptions) U32(OptEndOfOpt);
            int total = 4 + 4 + _body.Count + 4;
            var block = new byte[total];
            BinaryPrimitives.WriteUInt32LittleEndian(block, type);
            BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(4), (uint)total);
            _body.CopyTo(block, 8);
            BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(total - 4), (uint)total);
            return block;
        }

        private void Add(ReadOnlySpan<byte> bytes)
        {
            foreach (byte b in bytes) _body.Add(b);
        }
    }
}
