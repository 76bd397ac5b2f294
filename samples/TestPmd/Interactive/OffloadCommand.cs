using System.Globalization;
using Pmd.Ethdev;
using Pmd.TestPmd.App;
using Pmd.TestPmd.Forwarding;

namespace Pmd.TestPmd.Interactive;

/// <summary>
/// DPDK testpmd's "csum set", "csum show", "tso set" and "tso show": what the csum engine asks of
/// a TX port. As in DPDK the port must be stopped; its configuration then gets the TX offloads
/// the settings need, and a port that lacks one refuses it with the reason (start it again with
/// "port start N").
/// </summary>
internal static class OffloadCommand
{
    public static void SetChecksum(Session session, string what, string where, string which, TextWriter output)
    {
        if (where is not ("hw" or "sw") || what is not ("ip" or "tcp" or "udp"))
        {
            output.WriteLine($"Bad arguments: csum set ip|tcp|udp hw|sw PORT (got '{what} {where}')");
            return;
        }
        Apply(session, which, output, s =>
        {
            bool hw = where == "hw";
            switch (what)
            {
                case "ip": s.IpHardware = hw; break;
                case "tcp": s.TcpHardware = hw; break;
                default: s.UdpHardware = hw; break;
            }
        }, ShowChecksum);
    }

    public static void SetTso(Session session, string size, string which, TextWriter output)
    {
        if (!int.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out int mss) || mss > ushort.MaxValue)
        {
            output.WriteLine($"Bad TSO segment size '{size}' (0..65535, 0 turns TSO off)");
            return;
        }
        Apply(session, which, output, s => s.TsoSegmentSize = mss, ShowTso);
    }

    public static void ShowChecksum(Session session, string which, TextWriter output) =>
        ForEach(session, which, output, p =>
        {
            var s = session.Forwarder.TxOffloadsFor(p.PortId);
            output.WriteLine($"IP checksum offload is {(s.IpHardware ? "hw" : "sw")}");
            output.WriteLine($"UDP checksum offload is {(s.UdpHardware ? "hw" : "sw")}");
            output.WriteLine($"TCP checksum offload is {(s.TcpHardware ? "hw" : "sw")}");
        });

    public static void ShowTso(Session session, string which, TextWriter output) =>
        ForEach(session, which, output, p =>
        {
            int mss = session.Forwarder.TxOffloadsFor(p.PortId).TsoSegmentSize;
            output.WriteLine(mss == 0 ? "TSO for non-tunneled packets is disabled" : $"TSO segment size for non-tunneled packets is {mss}");
        });

    private static void Apply(Session session, string which, TextWriter output, Action<TxOffloadSettings> change, Action<Session, string, TextWriter> show) =>
        ForEach(session, which, output, p =>
        {
            if (p.IsStarted)
            {
                output.WriteLine($"Please stop port {p.PortId} first");
                return;
            }
            var settings = session.Forwarder.TxOffloadsFor(p.PortId);
            var before = (settings.IpHardware, settings.TcpHardware, settings.UdpHardware, settings.TsoSegmentSize);
            change(settings);
            if (p.Config is { } config)
            {
                var wanted = config.Clone();
                wanted.TxOffloads = (config.TxOffloads & ~(TxOffloads.Checksum | TxOffloads.Ipv4Checksum | TxOffloads.TcpTso)) | settings.Needed;
                try
                {
                    p.Configure(wanted);
                }
                catch (NotSupportedException e)
                {
                    (settings.IpHardware, settings.TcpHardware, settings.UdpHardware, settings.TsoSegmentSize) = before;
                    output.WriteLine($"Error: {e.Message}");
                    return;
                }
            }
            show(session, p.PortId.ToString(CultureInfo.InvariantCulture), output);
        });

    private static void ForEach(Session session, string which, TextWriter output, Action<EthPort> action)
    {
        var ports = PortSelector.Resolve(session.Registry, which, output);
        if (ports is null) return;
        foreach (var p in ports) action(p);
    }
}
