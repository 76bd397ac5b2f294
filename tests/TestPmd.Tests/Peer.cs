using Pmd.TestSupport;

namespace TestPmd.Tests;

/// <summary>A DPDK vhost-user backend on a fresh socket, and the EAL arguments that point our testpmd at it.</summary>
internal static class Peer
{
    private static int s_counter;

    public static string NewSocket() => $"/tmp/pmd-testpmd-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}.sock";

    /// <summary>
    /// Our EAL side: the backend forwards on CPU 1 (its -l 0-1), so ours forwards on CPU 0 and
    /// keeps its main lcore, which mostly sleeps, on CPU 1.
    /// </summary>
    public static string[] Eal(string socket) => ["--vdev", $"net_virtio_user0,path={socket}", "-l", "0-1", "--main-lcore", "1", "--"];

    public static DpdkVhostBackend Start(string mode, int? txPacketLength = null) =>
        DpdkVhostBackend.Start(NewSocket(), mode, txPacketLength: txPacketLength);
}
