using Pmd.Ethdev;

namespace Pmd.TestPmd.Interactive;

/// <summary>"show port info", "show port summary" and "show port xstats", in testpmd's layout.</summary>
internal static class PortInfoPrinter
{
    public static void Info(EthPort port, TextWriter w)
    {
        var info = port.Info;
        var link = port.Link;
        var config = port.Config;
        w.WriteLine();
        w.WriteLine($"********************* Infos for port {port.PortId}  *********************");
        w.WriteLine($"MAC address: {port.MacAddress}");
        w.WriteLine($"Device name: {port.Name}");
        w.WriteLine($"Driver name: {info.DriverName}");
        w.WriteLine($"Port state: {port.State}");
        w.WriteLine($"Link status: {(link.Up ? "up" : "down")}");
        w.WriteLine($"Link speed: {(link.Up && link.SpeedMbps > 0 ? $"{link.SpeedMbps} Mbps" : "None")}");
        w.WriteLine($"Link duplex: {(link.FullDuplex ? "full-duplex" : "half-duplex")}");
        w.WriteLine($"MTU: {port.Mtu}");
        w.WriteLine($"Promiscuous mode: {(port.Promiscuous ? "enabled" : "disabled")}");
        w.WriteLine($"Allmulticast mode: {(port.AllMulticast ? "enabled" : "disabled")}");
        w.WriteLine($"Max possible RX queues: {info.MaxRxQueues}");
        w.WriteLine($"Current number of RX queues: {config?.RxQueues ?? 0}");
        w.WriteLine($"Max possible TX queues: {info.MaxTxQueues}");
        w.WriteLine($"Current number of TX queues: {config?.TxQueues ?? 0}");
        w.WriteLine($"Max possible number of RXDs per queue: {info.MaxRxDescriptors}");
        w.WriteLine($"Max possible number of TXDs per queue: {info.MaxTxDescriptors}");
        w.WriteLine($"RX offload capabilities: {info.RxOffloadCapabilities}");
        w.WriteLine($"TX offload capabilities: {info.TxOffloadCapabilities}");
        foreach (var (key, value) in info.Details) w.WriteLine($"{key}: {value}");
    }

    public static void Summary(PortRegistry registry, TextWriter w)
    {
        var ports = new List<EthPort>(registry.AllPorts);
        ports.Sort((a, b) => a.PortId.CompareTo(b.PortId));
        w.WriteLine($"Number of available ports: {ports.Count}");
        w.WriteLine("Port MAC Address       Name                 Driver         Status   Link");
        foreach (var p in ports)
        {
            var link = p.Link;
            string owner = registry.GetOwner(p.PortId) is { } o ? $" (owned by {o.Name})" : "";
            w.WriteLine($"{p.PortId,-4} {p.MacAddress} {p.Name,-20} {p.Info.DriverName,-14} {(p.IsStarted ? "up" : "down"),-8} {(link.Up ? $"{link.SpeedMbps} Mbps" : "None")}{owner}");
        }
    }

    public static void Xstats(EthPort port, TextWriter w)
    {
        w.WriteLine($"###### NIC extended statistics for port {port.PortId}");
        foreach (var x in port.GetXstats()) w.WriteLine($"{x.Name}: {x.Value}");
    }
}
