using System.Globalization;

namespace Pmd.TestPmd.Options;

/// <summary>EAL's "-l" syntax: CPU numbers and ranges separated by commas ("0-1", "0,2", "1-3,5").</summary>
internal static class LcoreList
{
    public const int MaxLcore = 1023;

    public static IReadOnlyList<int> Parse(string text)
    {
        var cpus = new SortedSet<int>();
        foreach (string part in text.Split(','))
        {
            int dash = part.IndexOf('-');
            int first = ParseCpu(dash < 0 ? part : part[..dash], text);
            int last = dash < 0 ? first : ParseCpu(part[(dash + 1)..], text);
            if (last < first) throw new UsageException($"invalid lcore list '{text}': range {part} runs backwards");
            for (int cpu = first; cpu <= last; cpu++) cpus.Add(cpu);
        }
        return [.. cpus];
    }

    private static int ParseCpu(string text, string whole)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int cpu) || cpu > MaxLcore)
            throw new UsageException($"invalid lcore list '{whole}': expected CPU numbers like 0-1 or 0,2");
        return cpu;
    }
}
