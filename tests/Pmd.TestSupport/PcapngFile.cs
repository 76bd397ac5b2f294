using System.Buffers.Binary;
using System.Text;

namespace Pmd.TestSupport;

/// <summary>An Interface Description Block as read back.</summary>
public sealed record PcapngInterface(ushort LinkType, uint SnapLength, string? Name, string? Description, byte? TimestampResolution);

/// <summary>An Enhanced Packet Block as read back (epb_flags and epb_queue when present).</summary>
public sealed record PcapngPacket(uint InterfaceId, ulong Timestamp, uint OriginalLength, byte[] Data, uint? Flags, uint? Queue);

/// <summary>An Interface Statistics Block as read back: its counters by option name.</summary>
public sealed record PcapngStatistics(uint InterfaceId, ulong Timestamp, IReadOnlyDictionary<string, ulong> Counters);

/// <summary>
/// A strict little-endian pcapng reader for the tests, independent of the writer: every block's
/// two lengths must agree, options must be padded, and blocks must be 32-bit aligned. The tests
/// check files with tshark and capinfos; this reads what those tools do not print (the ISB counters).
/// </summary>
public sealed class PcapngFile
{
    public List<PcapngInterface> Interfaces { get; } = [];
    public List<PcapngPacket> Packets { get; } = [];
    public List<PcapngStatistics> Statistics { get; } = [];
    public Dictionary<ushort, string> SectionOptions { get; } = [];

    public static PcapngFile Read(string path) => Parse(File.ReadAllBytes(path));

    public static PcapngFile Parse(ReadOnlySpan<byte> file)
    {
        var result = new PcapngFile();
        int at = 0;
        bool first = true;
        while (at < file.Length)
        {
            if (file.Length - at < 12) throw new InvalidDataException($"truncated block at {at}");
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(file[at..]);
            int length = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(file[(at + 4)..]));
            if (length < 12 || length % 4 != 0 || at + length > file.Length) throw new InvalidDataException($"block at {at}: bad length {length}");
            if (BinaryPrimitives.ReadUInt32LittleEndian(file[(at + length - 4)..]) != (uint)length) throw new InvalidDataException($"block at {at}: trailing length differs");
            var body = file.Slice(at + 8, length - 12);
            if (first && type != 0x0A0D0D0A) throw new InvalidDataException("the file does not start with a Section Header Block");
            first = false;
            switch (type)
            {
                case 0x0A0D0D0A:
                    if (BinaryPrimitives.ReadUInt32LittleEndian(body) != 0x1A2B3C4D) throw new InvalidDataException("not little-endian or no byte-order magic");
                    if (BinaryPrimitives.ReadUInt16LittleEndian(body[4..]) != 1) throw new InvalidDataException("major version is not 1");
                    foreach (var (code, value) in Options(body[16..])) result.SectionOptions[code] = Encoding.UTF8.GetString(value);
                    break;
                case 1:
                {
                    string? name = null, description = null;
                    byte? tsresol = null;
                    foreach (var (code, value) in Options(body[8..]))
                    {
                        if (code == 2) name = Encoding.UTF8.GetString(value);
                        else if (code == 3) description = Encoding.UTF8.GetString(value);
                        else if (code == 9) tsresol = value[0];
                    }
                    result.Interfaces.Add(new PcapngInterface(BinaryPrimitives.ReadUInt16LittleEndian(body), BinaryPrimitives.ReadUInt32LittleEndian(body[4..]), name, description, tsresol));
                    break;
                }
                case 6:
                {
                    uint iface = BinaryPrimitives.ReadUInt32LittleEndian(body);
                    if (iface >= result.Interfaces.Count) throw new InvalidDataException($"packet on interface {iface}, which has no IDB before it");
                    ulong ts = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(body[4..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
                    int captured = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(body[12..]));
                    uint original = BinaryPrimitives.ReadUInt32LittleEndian(body[16..]);
                    int padded = (captured + 3) & ~3;
                    if (20 + padded > body.Length) throw new InvalidDataException("packet data runs past its block");
                    uint? flags = null, queue = null;
                    foreach (var (code, value) in Options(body[(20 + padded)..]))
                    {
                        if (code == 2) flags = BinaryPrimitives.ReadUInt32LittleEndian(value);
                        else if (code == 6) queue = BinaryPrimitives.ReadUInt32LittleEndian(value);
                    }
                    result.Packets.Add(new PcapngPacket(iface, ts, original, body.Slice(20, captured).ToArray(), flags, queue));
                    break;
                }
                case 5:
                {
                    uint iface = BinaryPrimitives.ReadUInt32LittleEndian(body);
                    ulong ts = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(body[4..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
                    var counters = new Dictionary<string, ulong>();
                    foreach (var (code, value) in Options(body[12..]))
                    {
                        string name = code switch
                        {
                            2 => "isb_starttime",
                            3 => "isb_endtime",
                            4 => "isb_ifrecv",
                            5 => "isb_ifdrop",
                            6 => "isb_filteraccept",
                            7 => "isb_osdrop",
                            8 => "isb_usrdeliv",
                            _ => $"option_{code}",
                        };
                        counters[name] = code is 2 or 3
                            ? ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(value) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(4))
                            : BinaryPrimitives.ReadUInt64LittleEndian(value);
                    }
                    result.Statistics.Add(new PcapngStatistics(iface, ts, counters));
                    break;
                }
                default:
                    break;
            }
            at += length;
        }
        return result;
    }

    /// <summary>The options of a block, to opt_endofopt (or the end of the body).</summary>
    private static List<(ushort Code, byte[] Value)> Options(ReadOnlySpan<byte> options)
    {
        var list = new List<(ushort, byte[])>();
        int at = 0;
        while (at + 4 <= options.Length)
        {
            ushort code = BinaryPrimitives.ReadUInt16LittleEndian(options[at..]);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(options[(at + 2)..]);
            if (code == 0)
            {
                if (length != 0) throw new InvalidDataException("opt_endofopt with a length");
                if (at + 4 != options.Length) throw new InvalidDataException("bytes after opt_endofopt");
                return list;
            }
            int padded = (length + 3) & ~3;
            if (at + 4 + padded > options.Length) throw new InvalidDataException($"option {code} runs past its block");
            list.Add((code, options.Slice(at + 4, length).ToArray()));
            at += 4 + padded;
        }
        if (at != options.Length) throw new InvalidDataException("options do not fill their block");
        return list;
    }
}
