using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Pmd.Devargs;
using Pmd.Ethdev;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>net_e1000e: the Intel 82574L (QEMU's -device e1000e, the failover primary of its recipes), by PCI address.</summary>
internal sealed class E1000eDriver : PciNicDriver
{
    public static E1000eDriver Instance { get; } = new();

    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "A driver folder registers itself in this assembly's catalog, so adding a NIC changes no other file.")]
    internal static void AddToCatalog() => PciNicDrivers.Add(Instance);

    public override string Name => "net_e1000e";

    public override IReadOnlyList<DevArgKey> Keys { get; } = [];

    public override IReadOnlyList<PciId> SupportedIds { get; } = [new(0x8086, 0x10d3)];

    protected override EthPort Probe(VfioPciDevice device, DevArgs args, PortRegistry registry) =>
        new E1000ePort(args.Name, device, registry.Control, registry.LoggerFactory);
}
