using System.Runtime.InteropServices;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// A legacy receive descriptor (82574 datasheet 7.1.4): the buffer address, then one quadword
/// the device writes back: length, checksum, status, errors and VLAN tag. The driver only ever
/// reads the write-back quadword, in one load, and never trusts the address it finds there: what
/// it lent lives in its own memory.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct E1000eRxDescriptor
{
    public const byte DescriptorDone = 1 << 0, EndOfPacket = 1 << 1;

    /// <summary>CRC/alignment error, symbol error, sequence error, carrier extension error, RX data error.</summary>
    public const byte FrameErrors = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 4) | (1 << 7);

    private ulong _buffer;
    private ulong _writeBack;

    /// <summary>Lends the slot: the buffer's device address and a cleared write-back, so no old DD survives.</summary>
    public void Lend(ulong bufferIova)
    {
        _buffer = bufferIova;
        Volatile.Write(ref _writeBack, 0);
    }

    /// <summary>Clears the write-back of a slot the driver took back; a DD seen there before it is lent again was written out of turn.</summary>
    public void TakeBack() => _writeBack = 0;

    /// <summary>The write-back quadword, read once (acquire) so its fields belong together.</summary>
    public readonly RxWriteBack ReadWriteBack() => new(Volatile.Read(in _writeBack));
}

/// <summary>The fields of a receive descriptor's write-back, decoded from one 64-bit load.</summary>
internal readonly struct RxWriteBack(ulong raw)
{
    public int Length => (ushort)raw;
    public byte Status => (byte)(raw >> 32);
    public byte Errors => (byte)(raw >> 40);
    public bool Done => (Status & E1000eRxDescriptor.DescriptorDone) != 0;
    public bool EndOfPacket => (Status & E1000eRxDescriptor.EndOfPacket) != 0;
    public bool HasFrameError => (Errors & E1000eRxDescriptor.FrameErrors) != 0;
}

/// <summary>
/// A legacy transmit descriptor (82574 datasheet 7.2.10.1): buffer address, length, command, and
/// a status byte whose DD bit the device sets when it is done with the descriptor (only when RS
/// asked it to report).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct E1000eTxDescriptor
{
    public const byte CommandEndOfPacket = 1 << 0, CommandInsertFcs = 1 << 1, CommandReportStatus = 1 << 3;
    public const byte StatusDone = 1 << 0;

    private ulong _buffer;
    private uint _lengthAndCommand;   // length 15:0, CSO 23:16, CMD 31:24
    private uint _status;             // STA 7:0 (DD is bit 0), CSS 15:8, special 31:16

    public void Fill(ulong bufferIova, int length, byte command)
    {
        _buffer = bufferIova;
        _lengthAndCommand = (uint)(ushort)length | ((uint)command << 24);
        _status = 0;
    }

    public readonly bool IsDone => (Volatile.Read(in _status) & StatusDone) != 0;
}
