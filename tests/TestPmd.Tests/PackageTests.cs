using System.Diagnostics;

namespace TestPmd.Tests;

/// <summary>
/// The NuGet packages on their own (tools/package-test.sh): packed from the Release build, checked
/// for their README, license, XML docs, symbols and commit, and taken by an app built outside the
/// repository from a local folder feed alone, which forwards through DPDK's vhost backend.
/// </summary>
public sealed class PackageTests
{
    [Fact]
    public async Task The_packages_alone_build_an_app_whose_frames_all_come_back_through_dpdks_vhost_backend()
    {
        var repoDir = new DirectoryInfo(AppContext.BaseDirectory);
        while (repoDir is not null && !File.Exists(Path.Combine(repoDir.FullName, "tools", "package-test.sh"))) repoDir = repoDir.Parent;
        Assert.True(repoDir is not null, $"no tools/package-test.sh above {AppContext.BaseDirectory}");
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = repoDir!.FullName, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("tools/package-test.sh");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) p.Kill(entireProcessTree: true);
        string log = await stdout + await stderr;
        Assert.True(p.ExitCode == 0, log);
        Assert.Contains("sent 2000 received 2000 bad 0 (port stats: tx 2000 rx 2000)", log);
        Assert.Contains("package-test: ok", log);
    }
}
