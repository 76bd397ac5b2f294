using Pmd.VirtioNet.Transport.Pci;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// pci-caps: the modern virtio-pci capability walk (VirtioPciCapabilities.Read) over a config
/// space from the input. Input: a byte choosing a 256- or 4096-byte config space, six bytes
/// giving the BAR sizes (0 or a power of two), then config space from offset 0. The errors
/// allowed are the documented ones, NotSupportedException and InvalidDataException; what it
/// returns must lie inside the BARs it names.
/// </summary>
internal sealed class PciCapabilitiesTarget : FuzzTarget
{
    public override string Name => "pci-caps";

    public override void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        var config = new byte[input.Bool() ? 4096 : 256];
        var bars = new ulong[6];
        for (int i = 0; i < bars.Length; i++)
        {
            byte b = input.U8();
            bars[i] = b == 0 ? 0 : 1UL << (b % 40);
        }
        input.Bytes(config.Length).CopyTo(config);
        var device = new FakeConfigSpace(config, bars);
        VirtioPciCapabilities caps;
        try
        {
            caps = VirtioPciCapabilities.Read(device);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidDataException)
        {
            return;
        }
        CheckInside(caps.Common, 56, bars);
        CheckInside(caps.Notify, 2, bars);
        CheckInside(caps.Isr, 1, bars);
        if (caps.Device is { } d) CheckInside(d, 1, bars);
    }

    private static void CheckInside(VirtioPciRegion region, uint minLength, ulong[] bars)
    {
        InvariantException.Check(region.Bar is >= 0 and <= 5, "a capability names a BAR beyond 5");
        InvariantException.Check(region.Length >= minLength, "a capability is shorter than its structure");
        InvariantException.Check((ulong)region.Offset + region.Length <= bars[region.Bar], "a capability does not fit its BAR");
    }
}
