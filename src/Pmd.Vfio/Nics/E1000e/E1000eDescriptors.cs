using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pmd.Memory;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// An extended receive descriptor (82574 datasheet 7.1.5; RFCTL.EXTEN). The driver writes the
/// buffer address and a zero second quadword; the device overwrites all 16 bytes: first the MRQ
/// dword (RSS type in bits 3:0) and the RSS hash (with RXCSUM.PCSD), then the extended status and
/// errors dword (DD bit 0, EOP bit 1; the error byte in bits 31:24), the length and the VLAN tag.
/// The driver reads the second quadword first, in one acquire load, and the first only once DD is
/// set there; it never trusts an address it finds in the ring: what it lent lives in its own memory.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct E1000eRxDescriptor
{
    public const byte DescriptorDone = 1 << 0, EndOfPacket = 1 << 1;

    /// <summary>Status: the checksum verdicts are to be ignored (IXSM); the UDP, TCP (also set for UDP by QEMU), IPv4 header checksum was checked.</summary>
    public const byte IgnoreChecksum = 1 << 2, UdpChecksummed = 1 << 4, TcpChecksummed = 1 << 5, IpChecksummed = 1 << 6;

    /// <summary>Errors (bits 31:24 of the status dword, as a legacy descriptor's error byte): the TCP/UDP checksum (TCPE), the IPv4 header checksum (IPE) was wrong.</summary>
    public const byte L4ChecksumError = 1 << 5, IpChecksumError = 1 << 6;

    /// <summary>CRC/alignment error, symbol error, sequence error, carrier extension error, RX data error.</summary>
    public const byte FrameErrors = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 4) | (1 << 7);

    private ulong _low;     // read: the buffer address; write-back: MRQ, then the RSS hash
    private ulong _high;    // read: 0; write-back: status and errors, length, VLAN

    /// <summary>Lends the slot: the buffer's device address and a cleared second quadword, so no old DD survives.</summary>
    public void Lend(ulong bufferIova)
    {
        _low = bufferIova;
        Volatile.Write(ref _high, 0);
    }

    /// <summary>Clears the write-back of a slot the driver took back; a DD seen there before it is lent again was written out of turn.</summary>
    public void TakeBack() => _high = 0;

    /// <summary>The status quadword, read once (acquire) so its fields belong together and the RSS quadword is read after it.</summary>
    public readonly RxWriteBack ReadWriteBack() => new(Volatile.Read(in _high));

    /// <summary>The MRQ and RSS hash quadword: meaningful only after <see cref="ReadWriteBack"/> saw DD and EOP.</summary>
    public readonly RxRss ReadRss() => new(Volatile.Read(in _low));
}

/// <summary>The fields of an extended receive descriptor's status quadword, decoded from one 64-bit load.</summary>
internal readonly struct RxWriteBack(ulong raw)
{
    public int Length => (ushort)(raw >> 32);
    public byte Status => (byte)raw;
    public byte Errors => (byte)(raw >> 24);
    public bool Done => (Status & E1000eRxDescriptor.DescriptorDone) != 0;
    public bool EndOfPacket => (Status & E1000eRxDescriptor.EndOfPacket) != 0;
    public bool HasFrameError => (Errors & E1000eRxDescriptor.FrameErrors) != 0;

    /// <summary>The checksum verdicts of a frame's last descriptor (RXCSUM's IPOFLD and TUOFLD say which the device checks); none that it did not check.</summary>
    public OffloadFlags ChecksumFlags
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            byte status = Status, errors = Errors;
            if ((status & E1000eRxDescriptor.IgnoreChecksum) != 0) return OffloadFlags.None;
            var flags = OffloadFlags.None;
            if ((status & E1000eRxDescriptor.IpChecksummed) != 0)
                flags |= (errors & E1000eRxDescriptor.IpChecksumError) != 0 ? OffloadFlags.RxIpChecksumBad : OffloadFlags.RxIpChecksumGood;
            if ((status & (E1000eRxDescriptor.TcpChecksummed | E1000eRxDescriptor.UdpChecksummed)) != 0)
                flags |= (errors & E1000eRxDescriptor.L4ChecksumError) != 0 ? OffloadFlags.RxL4ChecksumBad : OffloadFlags.RxL4ChecksumGood;
            return flags;
        }
    }
}

/// <summary>An extended receive descriptor's first quadword after write-back: the MRQ dword and the RSS hash.</summary>
internal readonly struct RxRss(ulong raw)
{
    /// <summary>RSS types 1..5 (TCP/IPv4, IPv4, TCP/IPv6, IPv6 with extensions, IPv6); 0 is "not hashed" (not IP, or a type MRQC left off).</summary>
    private const uint MaxType = 5;

    public uint Type => (uint)raw & 0xF;

    public uint Hash => (uint)(raw >> 32);

    /// <summary>The device hashed the frame with a type it has: otherwise the hash field means nothing.</summary>
    public bool Hashed => Type is > 0 and <= MaxType;
}

/// <summary>
/// A transmit ring slot (82574 datasheet 7.2.10): a legacy descriptor (buffer address, length,
/// command), an extended data descriptor (DEXT set, DTYP 1: a 20-bit length, the command, and
/// POPTS asking for the IP and L4 checksums), or a context descriptor (DEXT set, DTYP 0: where the
/// checksums go and TSO's parameters, for the data descriptors that follow). The device sets DD in
/// the status byte of a data descriptor it is done with, only when RS asked it to report.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct E1000eTxDescriptor
{
    public const byte CommandEndOfPacket = 1 << 0, CommandInsertFcs = 1 << 1, CommandReportStatus = 1 << 3;
    /// <summary>Data descriptor: this packet is a TSO one. Context descriptor (TUCMD): TSO's parameters are valid.</summary>
    public const byte CommandTcpSegmentation = 1 << 2;
    public const byte CommandExtension = 1 << 5;
    /// <summary>TUCMD of a context descriptor: the L4 protocol is TCP (not UDP); the L3 one is IPv4 (not IPv6).</summary>
    public const byte ContextTcp = 1 << 0, ContextIpv4 = 1 << 1;
    /// <summary>POPTS of a data descriptor: insert the IP header checksum, the TCP/UDP checksum.</summary>
    public const byte OptionIpChecksum = 1 << 0, OptionL4Checksum = 1 << 1;
    public const byte StatusDone = 1 << 0;

    private const uint DataType = 1u << 20;   // DTYP 0001: data; a context descriptor's is 0000

    private ulong _low;     // data: buffer address; context: IPCSS, IPCSO, IPCSE, TUCSS, TUCSO, TUCSE
    private uint _lengthAndCommand;   // length (16 bits legacy, 20 extended), CSO or DTYP, CMD 31:24
    private uint _status;             // STA 7:0 (DD is bit 0); legacy CSS, extended POPTS or context HDRLEN 15:8; VLAN or MSS 31:16

    public void Fill(ulong bufferIova, int length, byte command)
    {
        _low = bufferIova;
        _lengthAndCommand = (uint)(ushort)length | ((uint)command << 24);
        _status = 0;
    }

    /// <summary>An extended data descriptor: DEXT is added to <paramref name="command"/>.</summary>
    public void FillData(ulong bufferIova, int length, byte command, byte options)
    {
        _low = bufferIova;
        _lengthAndCommand = ((uint)length & 0xF_FFFF) | DataType | ((uint)(command | CommandExtension) << 24);
        _status = (uint)options << 8;
    }

    /// <summary>A context descriptor, from its private copy (status clear: RS is never set in one, no DD comes back).</summary>
    public void FillContext(in E1000eTxContext context)
    {
        _low = context.Offsets;
        _lengthAndCommand = context.LengthAndCommand;
        _status = context.Segmentation;
    }

    public readonly bool IsDone => (Volatile.Read(in _status) & StatusDone) != 0;
}
