using Pmd.Ethdev;

namespace Pmd.TestPmd.Ports;

/// <summary>
/// Prints port events as they are delivered on the control thread, in testpmd's words
/// ("Port 0: link state change event"), so that hot-plug and link flaps show up while forwarding.
/// </summary>
internal sealed class EventPrinter : IDisposable
{
    private readonly List<IDisposable> _subscriptions = [];
    private readonly TextWriter _output;

    public EventPrinter(PortRegistry registry, TextWriter output)
    {
        _output = output;
        foreach (var type in Enum.GetValues<PortEventType>())
            _subscriptions.Add(registry.Subscribe(type, Print));
    }

    public static string Describe(PortEventType type) => type switch
    {
        PortEventType.LinkStateChange => "link state change",
        PortEventType.Removal => "device removal",
        PortEventType.DeviceRequest => "device request",
        PortEventType.New => "device probed",
        PortEventType.Destroy => "device released",
        PortEventType.Failover => "failover",
        _ => type.ToString(),
    };

    private void Print(PortEvent e)
    {
        string detail = e.Type is PortEventType.LinkStateChange or PortEventType.Failover && e.Detail is { } d ? $" ({d})" : "";
        _output.WriteLine($"\nPort {e.PortId}: {Describe(e.Type)} event{detail}");
    }

    public void Dispose()
    {
        foreach (var s in _subscriptions) s.Dispose();
    }
}
