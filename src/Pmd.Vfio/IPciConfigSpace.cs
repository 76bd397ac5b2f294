using Pmd.Devargs;

namespace Pmd.Vfio;

/// <summary>
/// What a capability walk reads of a PCI device: config space and BAR sizes. VfioPciDevice is
/// the real one; the seam lets the walks run over a config space from a test or a fuzzer.
/// </summary>
internal interface IPciConfigSpace
{
    PciAddress Address { get; }

    byte ReadConfig8(int offset);

    ushort ReadConfig16(int offset);

    uint ReadConfig32(int offset);

    ulong BarLength(int bar);
}
