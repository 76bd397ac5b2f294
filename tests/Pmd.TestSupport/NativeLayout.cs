using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Pmd.TestSupport;

/// <summary>
/// Asks gcc what the C headers say: compiles a small program that prints sizeof and offsetof for
/// the given expressions, runs it, and returns name→value. Layout tests compare these numbers with
/// what the C# structs give.
/// </summary>
public static class NativeLayout
{
    /// <summary>
    /// <paramref name="includes"/> are header names; <paramref name="expressions"/> map a label to
    /// a C expression of type size_t (sizeof(...) or offsetof(...)).
    /// </summary>
    public static IReadOnlyDictionary<string, long> Probe(IEnumerable<string> includes, IReadOnlyDictionary<string, string> expressions, string prelude = "")
    {
        var gcc = FindTool("gcc") ?? throw new InvalidOperationException("gcc is needed for layout tests: apt-get install gcc");
        string dir = Directory.CreateTempSubdirectory("pmd-layout").FullName;
        try
        {
            var c = new StringBuilder();
            c.AppendLine("#include <stdio.h>\n#include <stddef.h>");
            foreach (var h in includes) c.AppendLine($"#include <{h}>");
            c.AppendLine(prelude);
            c.AppendLine("int main(void) {");
            foreach (var (label, expr) in expressions) c.AppendLine($"  printf(\"{label}=%zu\\n\", (size_t)({expr}));");
            c.AppendLine("  return 0;\n}");
            File.WriteAllText(Path.Combine(dir, "probe.c"), c.ToString());
            Run(gcc, $"-o probe probe.c", dir);
            var output = Run(Path.Combine(dir, "probe"), "", dir);
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split('='))
                .ToDictionary(p => p[0], p => long.Parse(p[1]));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    public static long OffsetOf<T>(string field) => Marshal.OffsetOf<T>(field).ToInt64();

    public static long SizeOf<T>() where T : unmanaged => System.Runtime.CompilerServices.Unsafe.SizeOf<T>();

    private static string Run(string file, string args, string dir)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args} failed ({p.ExitCode}): {stderr}");
        return stdout;
    }

    public static string? FindTool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':')
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
