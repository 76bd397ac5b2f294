using System.Buffers.Binary;
using Pmd.Devargs;
using Pmd.Vfio;
using Pmd.VirtioNet.Transport.Pci;

namespace Pmd.VirtioNet.Tests;

/// <summary>The virtio-pci capability walk over a config space built here, as a device could present it.</summary>
public sealed class PciCapabilitiesTests
{
    /// <summary>Config space and BAR sizes in memory; reads past the end fail as vfio-pci's do.</summary>
    private sealed class ConfigSpace(int size) : IPciConfigSpace
    {
        public readonly byte[] Bytes = new byte[size];
        public readonly ulong[] Bars = [0, 0, 0, 0, 0x4000, 0];

        public PciAddress Address => new(0, 0, 4, 0);
        public byte ReadConfig8(int offset) => Bytes[Check(offset, 1)];
        public ushort ReadConfig16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(Check(offset, 2)));
        public uint ReadConfig32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(Check(offset, 4)));
        public ulong BarLength(int bar) => Bars[bar];

        private int Check(int offset, int length) =>
            offset >= 0 && offset + length <= Bytes.Length ? offset : throw new ArgumentOutOfRangeException(nameof(offset), offset, "past config space");

        /// <summary>
        /// A vendor capability at <paramref name="pos"/>: type, BAR 4, offset and length (and the
        /// notify multiplier); only the bytes that fit in config space are written.
        /// </summary>
        public void Cap(int pos, int next, int type, uint offset, uint length, uint multiplier = 0)
        {
            Span<byte> cap = stackalloc byte[20];
            cap[0] = 0x09;
            cap[1] = (byte)next;
            cap[2] = (byte)(type == 2 ? 20 : 16);
            cap[3] = (byte)type;
            cap[4] = 4;
            BinaryPrimitives.WriteUInt32LittleEndian(cap[8..], offset);
            BinaryPrimitives.WriteUInt32LittleEndian(cap[12..], length);
            BinaryPrimitives.WriteUInt32LittleEndian(cap[16..], multiplier);
            int fits = Math.Min(type == 2 ? 20 : 16, Bytes.Length - pos);
            cap[..fits].CopyTo(Bytes.AsSpan(pos));
        }

        public void List(int first)
        {
            Bytes[0x06] = 0x10;
            Bytes[0x34] = (byte)first;
        }
    }

    [Fact]
    public void A_qemu_like_capability_list_gives_each_structure()
    {
        var config = new ConfigSpace(256);
        config.List(0x40);
        config.Cap(0x40, 0x50, 1, 0x0000, 0x1000);
        config.Cap(0x50, 0x68, 2, 0x3000, 0x1000, multiplier: 4);
        config.Cap(0x68, 0x78, 3, 0x1000, 0x1000);
        config.Cap(0x78, 0x00, 4, 0x2000, 0x1000);
        var caps = VirtioPciCapabilities.Read(config);
        Assert.Equal(new VirtioPciRegion(4, 0x0000, 0x1000), caps.Common);
        Assert.Equal(new VirtioPciRegion(4, 0x3000, 0x1000), caps.Notify);
        Assert.Equal(4u, caps.NotifyMultiplier);
        Assert.Equal(new VirtioPciRegion(4, 0x1000, 0x1000), caps.Isr);
        Assert.Equal(new VirtioPciRegion(4, 0x2000, 0x1000), caps.Device);
    }

    /// <summary>
    /// Found by fuzz target pci-caps (fuzz/regressions/pci-caps): a capability near the end of a
    /// 256-byte config space made the walk read past it and fail with ArgumentOutOfRangeException
    /// instead of the InvalidDataException a malformed device gets.
    /// </summary>
    [Theory]
    [InlineData(256, 0xF0, 2)]   // a notify capability's multiplier would be at 0x100
    [InlineData(256, 0xFC, 1)]   // its BAR byte would be at 0x100
    [InlineData(4096, 0xF4, 3)]  // PCI Express: readable, but still outside the capability area
    public void A_capability_running_past_offset_0x100_is_invalid_data(int configSize, int pos, int type)
    {
        var config = new ConfigSpace(configSize);
        config.List(0x40);
        config.Cap(0x40, pos, 1, 0, 0x1000);
        config.Cap(pos, 0, type, 0, 0x1000);
        var e = Assert.Throws<InvalidDataException>(() => VirtioPciCapabilities.Read(config));
        Assert.Contains($"0x{pos:x}", e.Message);
    }
}
