using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestPmd.Options;

namespace Pmd.TestPmd.Ports;

/// <summary>Attaches a device through the registry, then configures and starts it with the command line's queues.</summary>
internal static class PortSetup
{
    public static EthPort AttachAndStart(PortRegistry registry, string devargs, AppOptions options, Mempool pool, TextWriter output)
    {
        var port = registry.Attach(devargs);
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
            });
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
}
