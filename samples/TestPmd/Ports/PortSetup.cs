using Pmd.Ethdev;
using Pmd.Failover;
using Pmd.Memory;
using Pmd.TestPmd.Options;

namespace Pmd.TestPmd.Ports;

/// <summary>Attaches a device through the registry, then configures and starts it with the command line's queues.</summary>
internal static class PortSetup
{
    /// <summary>
    /// "-a ADDR" is the user asking for that device: give it to vfio-pci (through driver_override)
    /// if another driver has it and a Pmd driver matches its ids. Nothing else is ever rebound.
    /// </summary>
    private static void BindPciDeviceIfAsked(PortRegistry registry, string devargs, TextWriter output)
    {
        var args = Pmd.Devargs.DevArgs.Parse(devargs);
        if (args.Pci is not { } address) return;
        // Only a device one of our drivers can run is ever taken from its kernel driver.
        registry.Drivers.Resolve(args);
        var info = Pmd.Vfio.PciSysfs.Find(address);
        if (info is null || info.Driver == Pmd.Vfio.PciSysfs.VfioPciDriver) return;
        output.WriteLine($"Binding {address} ({info.Driver ?? "no driver"}) to {Pmd.Vfio.PciSysfs.VfioPciDriver}");
        Pmd.Vfio.PciSysfs.BindToVfio(address);
    }

    public static EthPort AttachAndStart(PortRegistry registry, FailoverAutoAttach failover, string devargs, AppOptions options, Mempool pool, TextWriter output)
    {
        BindPciDeviceIfAsked(registry, devargs, output);
        var attached = registry.Attach(devargs);
        var port = failover.ForwardingPortFor(attached);
        if (port != attached)
        {
            output.WriteLine($"Port {attached.PortId} ({attached.Name}) is a failover standby: forwarding through port {port.PortId} ({port.Name})");
        }
        else if (registry.GetOwner(port.PortId) is { } owner)
        {
            output.WriteLine($"Port {port.PortId} ({port.Name}) is owned by {owner.Name}: it serves that port, not forwarding directly");
            return port;
        }
        try
        {
            output.WriteLine($"Configuring Port {port.PortId} ({port.Name})");
            port.Configure(new PortConfig
            {
                RxQueues = options.RxQueues,
                TxQueues = options.TxQueues,
                RxDescriptors = options.RxDescriptors,
                TxDescriptors = options.TxDescriptors,
                RxPool = pool,
                RxOffloads = RxOffloadsFor(port, options.RxOffloads),
                TxOffloads = options.TxOffloads,
            });
            // Before start, as DPDK's testpmd does: the driver sizes its receive path for it.
            if (options.Mtu is int mtu) port.SetMtu(mtu);
            port.Start();
            output.WriteLine($"Port {port.PortId}: {port.MacAddress}");
            return port;
        }
        catch
        {
            // A half-set-up port would keep its id and its socket: give both back.
            try { registry.Detach(port.PortId); }
            catch (Exception) { /* the original error is the one worth reporting */ }
            throw;
        }
    }

    /// <summary>
    /// --enable-rx-cksum is DPDK's RX_OFFLOAD_CHECKSUM, which takes in the IPv4 header checksum: its
    /// verdict is asked for too where the port gives one (virtio's has none, an e1000e's does).
    /// </summary>
    private static RxOffloads RxOffloadsFor(EthPort port, RxOffloads asked) =>
        (asked & RxOffloads.Checksum) != 0 && (port.Info.RxOffloadCapabilities & RxOffloads.Ipv4Checksum) != 0 ? asked | RxOffloads.Ipv4Checksum : asked;
}
