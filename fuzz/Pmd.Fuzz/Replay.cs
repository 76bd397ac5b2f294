namespace Pmd.Fuzz;

/// <summary>Runs a target once over each given file, reporting every finding with its input in hex.</summary>
internal static class Replay
{
    public static int Run(FuzzTarget target, IEnumerable<string> paths)
    {
        var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : [p])
            .Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith(".md", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        int failed = 0;
        foreach (string file in files)
        {
            byte[] input = File.ReadAllBytes(file);
            try
            {
                target.Run(input);
            }
#pragma warning disable CA1031 // any exception that escapes a target is the finding being reported
            catch (Exception e)
#pragma warning restore CA1031
            {
                failed++;
                Console.WriteLine($"FINDING {target.Name} {file}\n  input: {Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 512)))}\n  {e}");
            }
        }
        (target as IDisposable)?.Dispose();
        Console.WriteLine($"{target.Name}: {files.Count} inputs, {failed} findings");
        return failed == 0 && files.Count > 0 ? 0 : 1;
    }
}
