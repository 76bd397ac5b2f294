using Pmd.Ethdev;
using Pmd.TestPmd.App;
using Pmd.TestPmd.Forwarding;

namespace Pmd.TestPmd.Interactive;

/// <summary>
/// testpmd's interactive mode: reads one command per line from stdin after a "testpmd> " prompt.
/// A command that fails prints one line and the loop goes on; end of input is "quit".
/// </summary>
internal sealed class CommandLoop(Session session, TextReader input)
{
    private const string Prompt = "testpmd> ";
    private readonly TextWriter _out = session.Out;

    public void Run(bool autoStart, bool txFirst)
    {
        if (autoStart) Execute(txFirst ? "start tx_first" : "start");
        while (true)
        {
            _out.Write(Prompt);
            string? line = input.ReadLine();
            if (line is null)
            {
                _out.WriteLine();
                return;
            }
            if (!Execute(line)) return;
        }
    }

    /// <summary>Runs one command line; false when it was "quit".</summary>
    public bool Execute(string line)
    {
        var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0) return true;
        try
        {
            switch (words)
            {
                case ["quit" or "exit"]:
                    return false;
                case ["help"]:
                    _out.WriteLine(HelpText);
                    break;
                case ["start"]:
                    session.StartForwarding(txFirst: false);
                    break;
                case ["start", "tx_first"]:
                    session.StartForwarding(txFirst: true);
                    break;
                case ["stop"]:
                    session.StopForwarding();
                    break;
                case ["show", "port", "summary"] or ["show", "port", "summary", "all"]:
                    PortInfoPrinter.Summary(session.Registry, _out);
                    break;
                case ["show", "port", "info", var which]:
                    ForEachPort(which, p => PortInfoPrinter.Info(p, _out));
                    break;
                case ["show", "port", "stats", var which]:
                    ForEachPort(which, p => session.Nic.Print(p, _out));
                    break;
                case ["show", "port", "xstats", var which]:
                    ForEachPort(which, p => PortInfoPrinter.Xstats(p, _out));
                    break;
                case ["clear", "port", "stats", var which]:
                    ForEachPort(which, p =>
                    {
                        session.ClearStats(p);
                        _out.WriteLine($"\n  NIC statistics for port {p.PortId} cleared");
                    });
                    break;
                case ["set", "verbose", var level] when int.TryParse(level, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= 0:
                    _out.WriteLine($"Change verbose level from {PacketDump.Set(n, _out)} to {n}");
                    break;
                case ["set", "fwd", var mode]:
                    SetForwardMode(mode);
                    break;
                case ["set", "promisc", var which, var onOff and ("on" or "off")]:
                    ForEachPort(which, p =>
                    {
                        p.SetPromiscuous(onOff == "on");
                        _out.WriteLine($"Port {p.PortId}: promiscuous mode {(onOff == "on" ? "enabled" : "disabled")}");
                    });
                    break;
                case ["set", "allmulti", var which, var onOff and ("on" or "off")]:
                    ForEachPort(which, p =>
                    {
                        p.SetAllMulticast(onOff == "on");
                        _out.WriteLine($"Port {p.PortId}: all-multicast mode {(onOff == "on" ? "enabled" : "disabled")}");
                    });
                    break;
                case ["port", "attach", var devargs]:
                    AttachPort(devargs);
                    break;
                case ["port", "detach", var which]:
                    DetachPort(which);
                    break;
                case ["port", "request_removal", var which]:
                    // What a hypervisor's unplug request does through VFIO: the device-request event.
                    ForEachPort(which, p =>
                    {
                        // Naming the failover port means its current primary.
                        if (p is Pmd.Failover.FailoverPort f)
                        {
                            if (f.Primary is not { } primary)
                            {
                                _out.WriteLine($"Port {p.PortId} has no primary to remove");
                                return;
                            }
                            p = primary;
                        }
                        session.Registry.Raise(p.PortId, PortEventType.DeviceRequest, "requested from the command line");
                        _out.WriteLine($"Port {p.PortId}: removal requested");
                    });
                    break;
                case ["capture", "start", .. var rest]:
                    if (CaptureCommand.Parse(session.Registry, rest, _out) is { } capture)
                        session.StartCapture(capture.Path, capture.Options);
                    break;
                case ["capture", "stop"]:
                    if (!session.StopCapture()) _out.WriteLine("No capture to stop");
                    break;
                case ["show", "capture"]:
                    CaptureCommand.Show(session.Capture, _out);
                    break;
                case ["csum", "set", var what, var where, var which]:
                    OffloadCommand.SetChecksum(session, what, where, which, _out);
                    break;
                case ["csum", "show", var which]:
                    OffloadCommand.ShowChecksum(session, which, _out);
                    break;
                case ["tso", "set", var size, var which]:
                    OffloadCommand.SetTso(session, size, which, _out);
                    break;
                case ["tso", "show", var which]:
                    OffloadCommand.ShowTso(session, which, _out);
                    break;
                case ["port", "start", var which]:
                    ForEachPort(which, p => { p.Start(); _out.WriteLine($"Port {p.PortId}: started"); });
                    break;
                case ["port", "stop", var which]:
                    if (RefuseWhileForwarding()) break;
                    ForEachPort(which, p => { p.Stop(); _out.WriteLine($"Port {p.PortId}: stopped"); });
                    break;
                default:
                    _out.WriteLine($"Bad command: '{line.Trim()}' (type 'help' for the list)");
                    break;
            }
        }
        catch (Exception e)
        {
            _out.WriteLine($"Error: {ErrorMessages.OneLine(e)}");
        }
        return true;
    }

    private void ForEachPort(string which, Action<EthPort> action)
    {
        var ports = PortSelector.Resolve(session.Registry, which, _out);
        if (ports is null) return;
        foreach (var p in ports) action(p);
    }

    private bool RefuseWhileForwarding()
    {
        if (!session.Forwarder.IsRunning) return false;
        _out.WriteLine("Please stop forwarding first");
        return true;
    }

    private void SetForwardMode(string mode)
    {
        if (!ForwardModes.TryParse(mode, out var m))
        {
            _out.WriteLine($"Invalid forward mode '{mode}' (expected one of: {ForwardModes.Names})");
            return;
        }
        session.Forwarder.Mode = m;
        _out.WriteLine($"Set {m.Name()} packet forwarding mode{(session.Forwarder.IsRunning ? " (from the next start)" : "")}");
    }

    private void AttachPort(string devargs)
    {
        _out.WriteLine("Attaching a new port...");
        try
        {
            var port = session.AttachPort(devargs);
            _out.WriteLine($"Port {port.PortId} is attached. Now total ports is {session.Registry.AllPorts.Count}");
            _out.WriteLine("Done");
        }
        catch (Exception e)
        {
            _out.WriteLine($"Failed to attach port: {ErrorMessages.OneLine(e)}");
        }
    }

    private void DetachPort(string which)
    {
        if (which == "all")
        {
            _out.WriteLine("Invalid port all (detach one port at a time)");
            return;
        }
        if (RefuseWhileForwarding()) return;
        var ports = PortSelector.Resolve(session.Registry, which, _out);
        if (ports is null) return;
        var port = ports[0];
        _out.WriteLine("Removing a device...");
        session.Nic.Forget(port.PortId);
        session.Registry.Detach(port.PortId);
        _out.WriteLine($"Port {port.PortId} is detached. Now total ports is {session.Registry.AllPorts.Count}");
        _out.WriteLine("Done");
    }

    private const string HelpText = """
        Commands:
          start | start tx_first          start forwarding (tx_first: send one burst per stream first)
          stop                            stop forwarding and print the forward statistics
          show port info|stats|xstats all|N
          show port summary
          clear port stats all|N
          set fwd io|mac|macswap|rxonly|txonly|flowgen|icmpecho|csum
          csum set ip|tcp|udp hw|sw N    csum mode: that checksum by the port (hw) or by the engine (sw); port stopped
          csum show N
          tso set SIZE N                  csum mode: TCP frames longer than SIZE payload bytes go out with TSO (0: off)
          tso show N
          set verbose N                   print every packet: 1 received, 2 sent, 3 both; 0 off
          set promisc all|N on|off        accept unicast frames for any MAC
          set allmulti all|N on|off       accept every multicast frame
          port attach DEVARGS             e.g. port attach net_virtio_user1,path=/tmp/vhost1.sock
          port detach N
          port start|stop all|N
          port request_removal N          raise the device-request event, as a hypervisor's unplug request does
          capture start all|N[,N...] FILE [snaplen N] [count N] [rx|tx|both] [queue N] [ring BYTES]
                                          copy the ports' packets into a pcapng file, as dpdk-dumpcap does
          capture stop                    end the capture and close its file
          show capture                    the capture's file, state and counts (captured, dropped)
          quit
        """;
}
