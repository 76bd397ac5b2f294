using System.Globalization;
using Pmd.Capture;
using Pmd.Ethdev;

namespace Pmd.TestPmd.Interactive;

/// <summary>
/// The capture commands, dpdk-dumpcap's options in testpmd's syntax:
/// <c>capture start all|N[,N...] FILE [snaplen N] [count N] [rx|tx|both] [queue N] [ring BYTES]</c>.
/// </summary>
internal static class CaptureCommand
{
    public const string Syntax = "capture start all|N[,N...] FILE [snaplen N] [count N] [rx|tx|both] [queue N] [ring BYTES]";

    /// <summary>
    /// Parses the words after "capture start"; null (after printing why) when they are wrong.
    /// The ports are resolved as other commands resolve them, so owned ports (a failover port's
    /// primary and standby) can be named too.
    /// </summary>
    public static (string Path, CaptureOptions Options)? Parse(PortRegistry registry, ReadOnlySpan<string> words, TextWriter output)
    {
        if (words.Length < 2)
        {
            output.WriteLine($"Usage: {Syntax}");
            return null;
        }
        var ports = new List<ushort>();
        foreach (string part in words[0].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var resolved = PortSelector.Resolve(registry, part, output);
            if (resolved is null) return null;
            ports.AddRange(resolved.Select(p => p.PortId));
        }
        if (ports.Count == 0)
        {
            output.WriteLine("No port to capture");
            return null;
        }
        string path = words[1];
        int snapLength = CaptureOptions.MaxSnapLength, ringSize = new CaptureOptions().RingSize;
        long count = 0;
        int? queue = null;
        var direction = CaptureDirection.Both;
        for (int i = 2; i < words.Length; i++)
        {
            string word = words[i];
            switch (word)
            {
                case "rx": direction = CaptureDirection.Rx; continue;
                case "tx": direction = CaptureDirection.Tx; continue;
                case "both": direction = CaptureDirection.Both; continue;
                case "snaplen" or "count" or "queue" or "ring": break;
                default:
                    output.WriteLine($"Bad capture option '{word}' (usage: {Syntax})");
                    return null;
            }
            var (min, max) = word switch
            {
                "snaplen" => (1L, (long)CaptureOptions.MaxSnapLength),
                "count" => (0L, long.MaxValue),
                "queue" => (0L, 1023L),
                _ => ((long)CaptureOptions.MinRingSize, 1L << 30),
            };
            if (Number(words, ++i, min, max, output) is not long n) return null;
            switch (word)
            {
                case "snaplen": snapLength = (int)n; break;
                case "count": count = n; break;
                case "queue": queue = (int)n; break;
                default: ringSize = (int)n; break;
            }
        }
        return (path, new CaptureOptions
        {
            Ports = ports,
            Queues = queue is int q ? [q] : null,
            Direction = direction,
            SnapLength = snapLength,
            PacketLimit = count,
            RingSize = ringSize,
        });
    }

    /// <summary>"rx", "tx" or "rx+tx".</summary>
    public static string Describe(CaptureDirection direction) => direction switch
    {
        CaptureDirection.Rx => "rx",
        CaptureDirection.Tx => "tx",
        _ => "rx+tx",
    };

    public static void PrintStarted(PacketCapture capture, TextWriter output)
    {
        var o = capture.Options;
        string limit = o.PacketLimit > 0 ? string.Create(CultureInfo.InvariantCulture, $", count {o.PacketLimit}") : "";
        string queues = o.Queues is [int q] ? string.Create(CultureInfo.InvariantCulture, $", queue {q}") : "";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Capturing port{(capture.PortIds.Count == 1 ? "" : "s")} {string.Join(",", capture.PortIds)} ({Describe(o.Direction)}{queues}, snaplen {o.SnapLength}{limit}) to {capture.Path}"));
    }

    public static void PrintStopped(PacketCapture capture, TextWriter output) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Capture stopped: {capture.Captured} packets written to {capture.Path}, {capture.Dropped} dropped"));

    /// <summary>"show capture": the file, whether it is running, and each port's counts.</summary>
    public static void Show(PacketCapture? capture, TextWriter output)
    {
        if (capture is null)
        {
            output.WriteLine("No capture (start one with: capture start all FILE)");
            return;
        }
        var o = capture.Options;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Capture to {capture.Path}: {(capture.IsRunning ? "running" : "ended")} ({Describe(o.Direction)}, snaplen {o.SnapLength}, count {(o.PacketLimit > 0 ? o.PacketLimit.ToString(CultureInfo.InvariantCulture) : "unlimited")})"));
        foreach (var p in capture.GetPortStats())
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  port {p.PortId} ({p.Name}): seen {p.Seen}, captured {p.Captured}, dropped {p.Dropped}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  total: captured {capture.Captured}, dropped {capture.Dropped}"));
    }

    private static long? Number(ReadOnlySpan<string> words, int i, long min, long max, TextWriter output)
    {
        if (i >= words.Length)
        {
            output.WriteLine($"Missing value after '{words[i - 1]}' (usage: {Syntax})");
            return null;
        }
        if (long.TryParse(words[i], NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n >= min && n <= max) return n;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Invalid {words[i - 1]} '{words[i]}' (expected {min}..{max})"));
        return null;
    }
}
