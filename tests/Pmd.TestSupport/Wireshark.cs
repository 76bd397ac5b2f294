using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Pmd.TestSupport;

/// <summary>One frame as tshark reads it from a capture file.</summary>
/// <param name="Number">frame.number, from 1.</param>
/// <param name="InterfaceId">frame.interface_id: the IDB it was captured on.</param>
/// <param name="InterfaceName">frame.interface_name: that IDB's if_name.</param>
/// <param name="Epoch">frame.time_epoch: seconds since 1970, to the nanosecond.</param>
/// <param name="Length">frame.len: the length on the wire.</param>
/// <param name="CapturedLength">frame.cap_len: the bytes kept.</param>
/// <param name="Direction">frame.packet_flags_direction: 1 inbound, 2 outbound.</param>
/// <param name="Bytes">The bytes kept, from tshark's raw dump.</param>
public sealed record TsharkFrame(int Number, int InterfaceId, string InterfaceName, decimal Epoch, int Length, int CapturedLength, int Direction, byte[] Bytes)
{
    public bool Inbound => Direction == 1;
    public bool Outbound => Direction == 2;
}

/// <summary>
/// Wireshark's command-line readers, Debian's tshark package (tools/setup-host.sh installs it):
/// tshark for the frames and capinfos for the file's summary. A missing tool is a failure that
/// says how to install it, never a silent pass.
/// </summary>
public static class Wireshark
{
    public static string Tool(string name) =>
        NativeLayout.FindTool(name) ?? throw new InvalidOperationException($"{name} is not installed: run tools/setup-host.sh (apt-get install tshark)");

    /// <summary>Runs a tool to completion and returns its stdout; a nonzero exit or a warning on stderr throws.</summary>
    public static string Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(Tool(tool)) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {tool}");
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000))
        {
            p.Kill();
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish in 2 minutes");
        }
        // As root, tshark says so on stderr; anything else there is a complaint about the file.
        string errors = string.Join('\n', stderr.Result.Split('\n').Where(l => l.Trim().Length > 0 && !l.Contains("Running as user \"root\"", StringComparison.Ordinal)));
        if (p.ExitCode != 0 || errors.Length > 0)
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} exited {p.ExitCode}:\n{errors}\n{stdout}");
        return stdout;
    }

    /// <summary>capinfos' report of the file (-M: counts in full, not "576 k"): counts, encapsulation, time precision, each interface's name.</summary>
    public static string Capinfos(string path) => Run("capinfos", "-M", path);

    /// <summary>The file's frames (the first <paramref name="limit"/>, or all), read by tshark: metadata fields, and bytes from the raw JSON dump.</summary>
    public static List<TsharkFrame> Frames(string path, int? limit = null)
    {
        string count = (limit ?? int.MaxValue).ToString(CultureInfo.InvariantCulture);
        string fields = Run("tshark", "-r", path, "-n", "-c", count, "-T", "fields", "-E", "separator=/t",
            "-e", "frame.number", "-e", "frame.interface_id", "-e", "frame.interface_name", "-e", "frame.time_epoch",
            "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.packet_flags_direction");
        var raw = RawBytes(path, count);
        var frames = new List<TsharkFrame>();
        foreach (string line in fields.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.TrimEnd('\r').Split('\t');
            if (f.Length != 7) throw new InvalidDataException($"tshark printed '{line}'");
            int number = int.Parse(f[0], CultureInfo.InvariantCulture);
            frames.Add(new TsharkFrame(number, int.Parse(f[1], CultureInfo.InvariantCulture), f[2],
                decimal.Parse(f[3], NumberStyles.Float, CultureInfo.InvariantCulture),
                int.Parse(f[4], CultureInfo.InvariantCulture), int.Parse(f[5], CultureInfo.InvariantCulture),
                ParseNumber(f[6]), raw[number - 1]));
        }
        if (frames.Count != raw.Count) throw new InvalidDataException($"tshark gave {frames.Count} frames' fields and {raw.Count} frames' bytes");
        return frames;
    }

    /// <summary>tshark fields (e.g. "eth.type", "ip.src") per frame, in frame order: one line a frame, tab-separated.</summary>
    public static List<string> Fields(string path, params string[] fields) =>
        [.. Run("tshark", ["-r", path, "-n", "-T", "fields", .. fields.SelectMany(f => new[] { "-e", f })]).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r'))];

    private static List<byte[]> RawBytes(string path, string count)
    {
        string json = Run("tshark", "-r", path, "-n", "-c", count, "-T", "json", "-x", "-j", "frame");
        using var doc = JsonDocument.Parse(json);
        var list = new List<byte[]>();
        foreach (var packet in doc.RootElement.EnumerateArray())
        {
            var layers = packet.GetProperty("_source").GetProperty("layers");
            var rawFrame = layers.GetProperty("frame_raw");
            string hex = rawFrame.ValueKind == JsonValueKind.Array ? rawFrame[0].GetString()! : rawFrame.GetString()!;
            list.Add(Convert.FromHexString(hex));
        }
        return list;
    }

    private static int ParseNumber(string text) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? int.Parse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : int.Parse(text, CultureInfo.InvariantCulture);
}
