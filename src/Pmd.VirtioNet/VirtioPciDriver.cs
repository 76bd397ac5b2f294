using Pmd.Devargs;
using Pmd.Ethdev;
using Pmd.Vfio;
using Pmd.VirtioNet.Transport.Pci;

namespace Pmd.VirtioNet;

/// <summary>net_virtio: a modern virtio-net PCI function reached through VFIO, by PCI address.</summary>
public sealed class VirtioPciDriver : PciNicDriver
{
    public static VirtioPciDriver Instance { get; } = new();

    public static void Register(DriverRegistry? drivers = null) => (drivers ?? DriverRegistry.Default).Register(Instance);

    public override string Name => "net_virtio";

    public override IReadOnlyList<DevArgKey> Keys { get; } =
    [VirtioDevArgs.QueueSize, VirtioDevArgs.InOrder, VirtioDevArgs.MergeableRxBuffers, VirtioDevArgs.Checksum, VirtioDevArgs.Tso, VirtioDevArgs.Vectorized];

    /// <summary>The modern virtio-net id, and the transitional one (which also has the modern interface).</summary>
    public override IReadOnlyList<PciId> SupportedIds { get; } = [new(0x1af4, 0x1041), new(0x1af4, 0x1000)];

    protected override EthPort Probe(VfioPciDevice device, DevArgs args, PortRegistry registry)
    {
        var transport = new VirtioPciTransport(device, registry.LoggerFactory);
        transport.AttachControl(registry.Control);
        try
        {
            return new VirtioNetPort(args.Name, transport, new VirtioNetOptions
            {
                QueueSize = (int)args.GetInt(VirtioDevArgs.QueueSize),
                // Packed rings are used whenever the device offers them (QEMU's packed=on), as DPDK does.
                PackedRing = true,
                InOrder = args.GetBool(VirtioDevArgs.InOrder),
                MergeableRxBuffers = args.GetBool(VirtioDevArgs.MergeableRxBuffers),
                Checksum = args.GetBool(VirtioDevArgs.Checksum),
                Tso = args.GetBool(VirtioDevArgs.Tso),
                Vectorized = VirtioDevArgs.GetVectorized(args),
                LoggerFactory = registry.LoggerFactory,
            });
        }
        catch
        {
            transport.Dispose();
            throw;
        }
    }
}
