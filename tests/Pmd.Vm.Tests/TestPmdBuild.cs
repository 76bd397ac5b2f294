namespace Pmd.Vm.Tests;

/// <summary>Where the guest finds TestPmd: the host's build output, seen in the guest through the read-only 9p root.</summary>
public static class TestPmdBuild
{
    /// <summary>Outside every path the guest hides with its own tmpfs, so the guest sees the host's copy.</summary>
    private const string StagingDirectory = "/var/lib/pmd-vm/testpmd";

    private static readonly string[] s_hiddenInGuest = ["/tmp/", "/run/", "/var/tmp/", "/dev/", "/proc/", "/sys/"];
    private static readonly Lock s_lock = new();
    private static string? s_located;

    /// <summary>
    /// The TestPmd the guest runs: PMD_VM_TESTPMD_AOT (a NativeAOT executable, tools/publish-aot.sh;
    /// tools/vm-tests.sh sets it), else PMD_VM_TESTPMD_DLL, else
    /// samples/TestPmd/bin/Release/net10.0/TestPmd.dll under the repository. A build under /tmp, /run
    /// or /var/tmp (tmpfs in the guest, hiding the host's files; CI may clone there) is copied once
    /// per test run to <see cref="StagingDirectory"/>. Pass the result to <see cref="Command"/>.
    /// </summary>
    public static string Locate()
    {
        lock (s_lock)
        {
            if (s_located is not null) return s_located;
            string path;
            if (Environment.GetEnvironmentVariable("PMD_VM_TESTPMD_AOT") is { Length: > 0 } aot)
            {
                path = Path.GetFullPath(aot);
                if (!File.Exists(path))
                    Assert.Fail($"PMD_VM_TESTPMD_AOT names {path}, which does not exist; publish it first: bash tools/publish-aot.sh");
            }
            else
            {
                path = Environment.GetEnvironmentVariable("PMD_VM_TESTPMD_DLL") is { Length: > 0 } env
                    ? Path.GetFullPath(env)
                    : Path.Combine(VmGuest.RepoRoot, "samples", "TestPmd", "bin", "Release", "net10.0", "TestPmd.dll");
                if (!File.Exists(path) || !File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")))
                    Assert.Fail($"TestPmd is not built at {path}; build it first: dotnet build {Path.Combine(VmGuest.RepoRoot, "samples", "TestPmd")} -c Release (or set PMD_VM_TESTPMD_DLL)");
            }
            if (s_hiddenInGuest.Any(h => path.StartsWith(h, StringComparison.Ordinal)))
                path = Stage(path);
            return s_located = path;
        }
    }

    /// <summary>
    /// The guest's shell words that start <paramref name="testPmd"/> (from <see cref="Locate"/>): an
    /// assembly under the dotnet host, a NativeAOT executable by itself. Under TCG the AOT build
    /// starts in ~0.65 s against ~4-5 s for the JIT one, and it has no tier-up pauses once running.
    /// </summary>
    public static string Command(string testPmd) =>
        testPmd.EndsWith(".dll", StringComparison.Ordinal) ? $"dotnet '{testPmd}'" : $"'{testPmd}'";

    private static string Stage(string dll)
    {
        string source = Path.GetDirectoryName(dll)!;
        if (Directory.Exists(StagingDirectory)) Directory.Delete(StagingDirectory, recursive: true);
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(StagingDirectory, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return Path.Combine(StagingDirectory, Path.GetFileName(dll));
    }
}
