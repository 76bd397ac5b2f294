using Pmd.Devargs;
using Pmd.Ethdev;

namespace Pmd.Vfio;

/// <summary>A PCI function a driver takes: vendor and device id.</summary>
public readonly record struct PciId(ushort Vendor, ushort Device)
{
    public override string ToString() => $"{Vendor:x4}:{Device:x4}";
}

/// <summary>
/// The base of every driver for a PCI NIC reached through VFIO (virtio-pci, e1000e, and the VF
/// drivers to come): matched by PCI id, probed with the device already opened, and the device
/// closed again if the probe fails. A driver supplies its ids, its devargs keys and a port built
/// on <see cref="VfioPciDevice"/>, <see cref="MmioWindow"/>, <see cref="PciInterrupts"/> and
/// <see cref="Pmd.Memory.DmaArena"/>.
/// </summary>
public abstract class PciNicDriver : PmdDriver
{
    /// <summary>The functions this driver runs.</summary>
    public abstract IReadOnlyList<PciId> SupportedIds { get; }

    public sealed override bool MatchesPci(ushort vendorId, ushort deviceId)
    {
        foreach (var id in SupportedIds)
            if (id.Vendor == vendorId && id.Device == deviceId) return true;
        return false;
    }

    public sealed override EthPort Probe(DevArgs args, PortRegistry registry)
    {
        if (args.Pci is not { } address) throw new DevArgsException($"{args.Name}: {Name} takes a PCI address, e.g. 0000:01:00.0");
        var device = VfioPciDevice.Open(address);
        try
        {
            return Probe(device, args, registry);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Builds the port over the opened <paramref name="device"/>, which the port then owns (and
    /// closes on <see cref="EthPort.Close"/>). Keys in <paramref name="args"/> are already checked.
    /// </summary>
    protected abstract EthPort Probe(VfioPciDevice device, DevArgs args, PortRegistry registry);
}
