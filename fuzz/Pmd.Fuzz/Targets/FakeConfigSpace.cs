using Pmd.Devargs;
using Pmd.Vfio;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// A PCI device's config space and BAR sizes from the input. Out-of-range reads fail as
/// VfioPciDevice's do (ArgumentOutOfRangeException): vfio-pci's config region is 256 bytes for
/// a conventional PCI device and 4096 for PCI Express, and reads past it are refused.
/// </summary>
internal sealed class FakeConfigSpace(byte[] config, ulong[] barLengths) : IPciConfigSpace
{
    public PciAddress Address { get; } = new(0, 0, 4, 0);

    public byte ReadConfig8(int offset) => config[Check(offset, 1)];

    public ushort ReadConfig16(int offset) => BitConverter.ToUInt16(config, Check(offset, 2));

    public uint ReadConfig32(int offset) => BitConverter.ToUInt32(config, Check(offset, 4));

    public ulong BarLength(int bar) =>
        (uint)bar < barLengths.Length ? barLengths[bar] : throw new ArgumentOutOfRangeException(nameof(bar), bar, "a PCI BAR index is 0 to 5");

    private int Check(int offset, int size) =>
        offset >= 0 && (ulong)offset + (ulong)size <= (ulong)config.Length
            ? offset
            : throw new ArgumentOutOfRangeException(nameof(offset), offset, $"config space is {config.Length} bytes");
}
