using System.Diagnostics;
using System.Globalization;

namespace Pmd.TestPmd.App;

/// <summary>
/// A run without -i, as testpmd's: forwarding starts at once and runs until enter is pressed or
/// SIGINT/SIGTERM arrives — or, with Pmd's --duration, for that many seconds — printing port
/// statistics every --stats-period seconds; then the forward statistics and the throughput line.
/// </summary>
internal static class BatchRun
{
    public static void Run(Session session, StopSignal stop)
    {
        var options = session.Options;
        session.StartForwarding(options.TxFirst);
        if (options.DurationSeconds is double duration)
        {
            session.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Forwarding for {duration:0.###} s (--duration)."));
        }
        else
        {
            session.Out.WriteLine("Press enter to exit");
            stop.WatchStdin();
        }

        var clock = Stopwatch.StartNew();
        double? period = options.StatsPeriodSeconds;
        double nextStats = period ?? double.PositiveInfinity;
        double end = options.DurationSeconds ?? double.PositiveInfinity;
        while (true)
        {
            double now = clock.Elapsed.TotalSeconds;
            if (now >= end) break;
            double wake = Math.Min(nextStats, end);
            var timeout = double.IsPositiveInfinity(wake) ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(Math.Max(0, wake - now));
            if (stop.Wait(timeout)) break;
            if (clock.Elapsed.TotalSeconds >= nextStats)
            {
                session.ShowPeriodicStats();
                nextStats += period!.Value;
            }
        }
        session.Out.WriteLine();
        session.StopForwarding();
    }
}
