using System.Text.Json;
using Pmd.Ethdev;

namespace Pmd.TestPmd.Stats;

/// <summary>One port's numbers in a --stats-json line: counters since forwarding started, rates since the previous line.</summary>
internal readonly record struct PortJsonSample(ushort PortId, PortStats SinceStart, PortRates Rates);

/// <summary>
/// --stats-json: one JSON object per line (JSON Lines) per stats period and a last one, marked
/// "final", at stop; flushed each time so a script can follow the file while we run.
/// </summary>
internal sealed class StatsJsonWriter : IDisposable
{
    private readonly FileStream _file;
    private readonly Utf8JsonWriter _json;

    public StatsJsonWriter(string path)
    {
        try
        {
            _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write --stats-json file {path}: {e.Message}", e);
        }
        _json = new Utf8JsonWriter(_file);
    }

    public void WriteLine(DateTimeOffset timestamp, double elapsedSeconds, bool final, IReadOnlyList<PortJsonSample> ports)
    {
        _json.Reset(_file);
        _json.WriteStartObject();
        _json.WriteString("timestamp", timestamp.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        _json.WriteNumber("elapsed_s", Math.Round(elapsedSeconds, 3));
        _json.WriteBoolean("final", final);
        _json.WriteStartArray("ports");
        foreach (var p in ports)
        {
            _json.WriteStartObject();
            _json.WriteNumber("port", p.PortId);
            _json.WriteNumber("rx_packets", p.SinceStart.RxPackets);
            _json.WriteNumber("tx_packets", p.SinceStart.TxPackets);
            _json.WriteNumber("rx_bytes", p.SinceStart.RxBytes);
            _json.WriteNumber("tx_bytes", p.SinceStart.TxBytes);
            _json.WriteNumber("rx_missed", p.SinceStart.RxMissed);
            _json.WriteNumber("rx_errors", p.SinceStart.RxErrors);
            _json.WriteNumber("tx_errors", p.SinceStart.TxErrors);
            _json.WriteNumber("rx_nombuf", p.SinceStart.RxNoMbuf);
            _json.WriteNumber("rx_pps", p.Rates.RxPps);
            _json.WriteNumber("tx_pps", p.Rates.TxPps);
            _json.WriteEndObject();
        }
        _json.WriteEndArray();
        _json.WriteEndObject();
        _json.Flush();
        _file.WriteByte((byte)'\n');
        _file.Flush();
    }

    public void Dispose()
    {
        _json.Dispose();
        _file.Dispose();
    }
}
