using Pmd.Devargs;
using Pmd.Ethdev;
using Pmd.Vfio;
using Pmd.VirtioNet.Transport.Pci;

namespace Pmd.VirtioNet;

/// <summary>net_virtio: a modern virtio-net PCI function reached through VFIO, by PCI address.</summary>
public sealed class VirtioPciDriver : PmdDriver
{
    public static VirtioPciDriver Instance { get; } = new();

    public static void Register(DriverRegistry? drivers = null) => (drivers ?? DriverRegistry.Default).Register(Instance);

    public override string Name => "net_virtio";

    public override IReadOnlyList<DevArgKey> Keys { get; } =
    [
        new("queue_size", DevArgKind.PowerOfTwo, "descriptors per ring", 2, 32768),
        new("in_order", DevArgKind.Bool, "0: do not negotiate IN_ORDER"),
        new("mrg_rxbuf", DevArgKind.Bool, "0: do not negotiate mergeable RX buffers"),
    ];

    /// <summary>The modern virtio-net id, and the transitional one (which also has the modern interface).</summary>
    public override bool MatchesPci(ushort vendorId, ushort deviceId) => vendorId == 0x1af4 && deviceId is 0x1041 or 0x1000;

    public override EthPort Probe(DevArgs args, PortRegistry registry)
    {
        var device = VfioPciDevice.Open(args.Pci!.Value);
        VirtioPciTransport transport;
        try
        {
            transport = new VirtioPciTransport(device);
        }
        catch
        {
            device.Dispose();
            throw;
        }
        transport.AttachControl(registry.Control);
        try
        {
            return new VirtioNetPort(args.Name, transport, new VirtioNetOptions
            {
                QueueSize = int.Parse(args.Get("queue_size") ?? "256"),
                // Packed rings are used whenever the device offers them (QEMU's packed=on), as DPDK does.
                PackedRing = true,
                InOrder = args.Get("in_order") != "0",
                MergeableRxBuffers = args.Get("mrg_rxbuf") != "0",
            });
        }
        catch
        {
            transport.Dispose();
            throw;
        }
    }
}
