namespace Pmd.Vm.Tests;

/// <summary>Where the guest finds TestPmd: the host's build output, seen in the guest through the read-only 9p root.</summary>
public static class TestPmdBuild
{
    /// <summary>
    /// PMD_VM_TESTPMD_DLL, else samples/TestPmd/bin/Release/net10.0/TestPmd.dll under the repository.
    /// The path must not lie under /tmp, /run or /var/tmp: those are tmpfs in the guest and hide the host's files.
    /// </summary>
    public static string Locate()
    {
        string dll = Environment.GetEnvironmentVariable("PMD_VM_TESTPMD_DLL") is { Length: > 0 } env
            ? Path.GetFullPath(env)
            : Path.Combine(VmGuest.RepoRoot, "samples", "TestPmd", "bin", "Release", "net10.0", "TestPmd.dll");
        if (!File.Exists(dll) || !File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")))
            Assert.Fail($"TestPmd is not built at {dll}; build it first: dotnet build {Path.Combine(VmGuest.RepoRoot, "samples", "TestPmd")} -c Release (or set PMD_VM_TESTPMD_DLL)");
        foreach (var hidden in new[] { "/tmp/", "/run/", "/var/tmp/", "/dev/", "/proc/", "/sys/" })
            if (dll.StartsWith(hidden, StringComparison.Ordinal))
                Assert.Fail($"{dll} is under {hidden}, which the guest mounts its own tmpfs over; build TestPmd elsewhere");
        return dll;
    }
}
