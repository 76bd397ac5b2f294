using System.Runtime.CompilerServices;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// The README's "Using the core" snippet, run as written against DPDK's vhost backend (txonly, so
/// frames come to us): the region between the markers below must equal the README's code block,
/// line for line, so that neither can change without the other.
/// </summary>
public sealed class ReadmeSnippetTests
{
    private const string Socket = "/tmp/vhost.sock";

    [Fact(Timeout = 60_000)]
    public void The_readme_snippet_runs_as_written_and_receives_and_sends_real_frames()
    {
        Assert.Equal(ReadmeBlock(), SnippetRegion());
        using var backend = DpdkVhostBackend.Start(Socket, "txonly", txPacketLength: 64);
        ulong rxPackets, txPackets;
        int received, accepted;
        {
            // README: Using the core
            VirtioUserDriver.Register();                                  // once per process, for each driver the app uses
            using var pool = Mempool.Create("rx", count: 8192);          // hugepage-backed, per-thread caches
            using var registry = new PortRegistry();                      // port ids, owners, events
            registry.Subscribe(PortEventType.LinkStateChange, ev => Console.WriteLine(ev)); // on the control thread
            var port = registry.Attach("net_virtio_user0,path=/tmp/vhost.sock,queues=1");   // devargs, as in DPDK
            port.Configure(new PortConfig { RxQueues = 1, TxQueues = 1, RxPool = pool });
            port.Start();

            Span<Mbuf> burst = stackalloc Mbuf[32];
            int n = 0;
            while (n == 0) n = port.RxBurst(0, burst);                    // poll mode; the caller owns what it receives
            int sent = port.TxBurst(0, burst[..n]);                       // the port owns what it accepted
            Mbuf.Free(burst[sent..n]);
            // README: end

            var stats = port.GetStats();
            (rxPackets, txPackets, received, accepted) = (stats.RxPackets, stats.TxPackets, n, sent);
            port.Stop();
            pool.FlushThreadCache();
            Assert.Equal(0, pool.InUse);
        }
        Assert.InRange(received, 1, 32);
        Assert.True(rxPackets >= (ulong)received, $"the port counted {rxPackets} RX packets, the snippet took {received}");
        Assert.Equal((ulong)accepted, txPackets);
        Assert.False(backend.HasExited, backend.Output);
    }

    private static string[] ReadmeBlock([CallerFilePath] string here = "")
    {
        string readme = File.ReadAllText(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "README.md"));
        int section = readme.IndexOf("## Using the core", StringComparison.Ordinal);
        int start = readme.IndexOf("```csharp\n", section, StringComparison.Ordinal) + "```csharp\n".Length;
        int end = readme.IndexOf("```", start, StringComparison.Ordinal);
        return Normalize(readme[start..end].Split('\n').Where(l => !l.StartsWith("using Pmd.", StringComparison.Ordinal)));
    }

    private static string[] SnippetRegion([CallerFilePath] string here = "")
    {
        var lines = File.ReadAllLines(here);
        int start = Array.FindIndex(lines, l => l.Trim() == "// README: Using the core") + 1;
        int end = Array.FindIndex(lines, l => l.Trim() == "// README: end");
        return Normalize(lines[start..end]);
    }

    private static string[] Normalize(IEnumerable<string> lines) =>
        [.. lines.Select(l => l.Trim()).SkipWhile(l => l.Length == 0).Reverse().SkipWhile(l => l.Length == 0).Reverse()];
}
