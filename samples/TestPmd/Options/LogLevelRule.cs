using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Pmd.TestPmd.Options;

/// <summary>
/// One --log-level, in DPDK's form: "LEVEL" for every logger, or "TYPE:LEVEL" for the loggers
/// whose category starts with TYPE ("pmd.hotplug:info" is Pmd.Hotplug; a trailing ".*" or "*",
/// as in DPDK's globs, changes nothing). LEVEL is DPDK's number (1-8) or name.
/// </summary>
internal readonly record struct LogLevelRule(string? Category, LogLevel Level)
{
    public static LogLevelRule Parse(string text)
    {
        int colon = text.LastIndexOf(':');
        string? type = colon < 0 ? null : text[..colon].TrimEnd('*').TrimEnd('.');
        string level = colon < 0 ? text : text[(colon + 1)..];
        if (type is { Length: 0 }) throw new UsageException($"--log-level '{text}': no log type before ':'");
        return new LogLevelRule(type, ParseLevel(text, level));
    }

    /// <summary>DPDK's levels on .NET's: emergency, alert and critical are Critical; notice, as info, is Information.</summary>
    private static LogLevel ParseLevel(string text, string level)
    {
        if (int.TryParse(level, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 8)
            level = ((string[])["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"])[n - 1];
        return level.ToLowerInvariant() switch
        {
            "emergency" or "emerg" or "alert" or "critical" or "crit" => LogLevel.Critical,
            "error" or "err" => LogLevel.Error,
            "warning" or "warn" => LogLevel.Warning,
            "notice" or "info" => LogLevel.Information,
            "debug" => LogLevel.Debug,
            _ => throw new UsageException($"--log-level '{text}': '{level}' is not a level (1-8, or emergency, alert, critical, error, warning, notice, info, debug)"),
        };
    }
}
