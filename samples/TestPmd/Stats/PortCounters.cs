using Pmd.Ethdev;

namespace Pmd.TestPmd.Stats;

/// <summary>Counter arithmetic shared by the printers: deltas that survive a "clear port stats" in between.</summary>
internal static class PortCounters
{
    /// <summary><paramref name="now"/> − <paramref name="then"/>, or <paramref name="now"/> when the counter was reset since.</summary>
    public static ulong Since(ulong now, ulong then) => now >= then ? now - then : now;

    public static PortStats Since(PortStats now, PortStats then) => new()
    {
        RxPackets = Since(now.RxPackets, then.RxPackets),
        TxPackets = Since(now.TxPackets, then.TxPackets),
        RxBytes = Since(now.RxBytes, then.RxBytes),
        TxBytes = Since(now.TxBytes, then.TxBytes),
        RxMissed = Since(now.RxMissed, then.RxMissed),
        RxErrors = Since(now.RxErrors, then.RxErrors),
        TxErrors = Since(now.TxErrors, then.TxErrors),
        RxNoMbuf = Since(now.RxNoMbuf, then.RxNoMbuf),
    };
}
