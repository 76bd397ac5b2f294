using Pmd.Vfio;

namespace Pmd.VirtioNet.Transport.Pci;

/// <summary>Where one virtio structure lives: a BAR, an offset and a length (struct virtio_pci_cap).</summary>
internal readonly record struct VirtioPciRegion(int Bar, uint Offset, uint Length);

/// <summary>
/// The result of walking a modern virtio-pci device's capability list (VIRTIO 1.x 4.1.4): the
/// common, notify, ISR and device-config structures, and the notify offset multiplier. Every
/// value read from config space is range-checked against the BAR it points into.
/// </summary>
internal sealed record VirtioPciCapabilities(VirtioPciRegion Common, VirtioPciRegion Notify, uint NotifyMultiplier, VirtioPciRegion Isr, VirtioPciRegion? Device)
{
    private const byte CapVendor = 0x09;
    private const int CapabilityPointer = 0x34;
    private const ushort StatusCapList = 0x10;
    private const int CommonCfg = 1, NotifyCfg = 2, IsrCfg = 3, DeviceCfg = 4;
    private const int CapLength = 16, NotifyCapLength = 20, CapabilityAreaEnd = 0x100;

    public static VirtioPciCapabilities Read(IPciConfigSpace device)
    {
        if ((device.ReadConfig16(0x06) & StatusCapList) == 0)
            throw new NotSupportedException($"{device.Address}: no PCI capability list, so not a modern virtio device");
        VirtioPciRegion? common = null, notify = null, isr = null, config = null;
        uint multiplier = 0;
        int pos = device.ReadConfig8(CapabilityPointer) & 0xFC;
        for (int hops = 0; pos != 0 && hops < 48; hops++)
        {
            if (pos < 0x40 || pos > 0xFC) throw new InvalidDataException($"{device.Address}: capability pointer 0x{pos:x} out of range");
            byte id = device.ReadConfig8(pos);
            int next = device.ReadConfig8(pos + 1) & 0xFC;
            if (id == CapVendor)
            {
                int type = device.ReadConfig8(pos + 3);
                // Capabilities live in the first 256 bytes, all a conventional device's config space
                // has; one that would run past them is garbage, not a read beyond the end.
                int length = type == NotifyCfg ? NotifyCapLength : CapLength;
                if (pos + length > CapabilityAreaEnd)
                    throw new InvalidDataException($"{device.Address}: virtio capability at 0x{pos:x} ({length} bytes) runs past config offset 0x{CapabilityAreaEnd:x}");
                var region = new VirtioPciRegion(device.ReadConfig8(pos + 4), device.ReadConfig32(pos + 8), device.ReadConfig32(pos + 12));
                // The first capability of each type is the preferred one (4.1.4.1).
                switch (type)
                {
                    case CommonCfg: common ??= Checked(device, region, 56); break;
                    case NotifyCfg when notify is null:
                        notify = Checked(device, region, 2);
                        multiplier = device.ReadConfig32(pos + 16);
                        break;
                    case IsrCfg: isr ??= Checked(device, region, 1); break;
                    case DeviceCfg: config ??= Checked(device, region, 1); break;
                }
            }
            pos = next;
        }
        if (common is null || notify is null || isr is null)
            throw new NotSupportedException($"{device.Address}: missing virtio capabilities (common {common is not null}, notify {notify is not null}, ISR {isr is not null}); legacy-only devices are not supported");
        return new VirtioPciCapabilities(common.Value, notify.Value, multiplier, isr.Value, config);
    }

    private static VirtioPciRegion Checked(IPciConfigSpace device, VirtioPciRegion region, uint minLength)
    {
        if (region.Bar > 5) throw new InvalidDataException($"{device.Address}: virtio capability names BAR {region.Bar}");
        ulong barLength = device.BarLength(region.Bar);
        if (region.Length < minLength || (ulong)region.Offset + region.Length > barLength)
            throw new InvalidDataException($"{device.Address}: virtio structure at BAR {region.Bar} +0x{region.Offset:x} ({region.Length} bytes) does not fit the BAR ({barLength} bytes)");
        return region;
    }
}
