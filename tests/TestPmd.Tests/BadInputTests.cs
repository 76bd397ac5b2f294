namespace TestPmd.Tests;

/// <summary>Wrong input ends with exactly one line on stderr starting "testpmd: ", the right exit code, and no stack trace.</summary>
public sealed class BadInputTests
{
    private const string NoBackendSocket = "/tmp/pmd-testpmd-no-backend.sock";

    public static TheoryData<string[], string, int> Cases => new()
    {
        { ["--bogus"], "testpmd: unknown EAL option '--bogus' (see --help)", 2 },
        { ["-l", "0-1", "--", "--forward-mode=warp"], "testpmd: invalid forward mode 'warp' (expected one of: io, mac, macswap, rxonly, txonly, flowgen, icmpecho, csum)", 2 },
        { ["-l", "0-1", "--", "--burst", "513"], "testpmd: invalid value '513' for --burst: expected an integer in 1..512", 2 },
        {
            ["--vdev", "net_virtio_user0,pth=/tmp/x.sock", "-l", "0-1"],
            "testpmd: net_virtio_user0: unknown key 'pth' for net_virtio_user (known keys: path, server, queues, queue_size, mac, packed_vq, in_order, mrg_rxbuf, csum, tso, vectorized, standby)",
            2
        },
        { ["--vdev", "net_bogus0,path=/tmp/x.sock", "-l", "0-1"], "testpmd: net_bogus0: no driver named 'net_bogus' (known: net_e1000e, net_failover, net_virtio, net_virtio_user)", 2 },
        {
            ["--vdev", $"net_virtio_user0,path={NoBackendSocket}", "-l", "0-1"],
            $"testpmd: cannot connect to vhost-user socket {NoBackendSocket}: No such file or directory (errno 2); is the backend running?",
            1
        },
        {
            ["--vdev", $"net_virtio_user0,path={NoBackendSocket}", "-l", "0-1", "--", "--eth-peer=9,02:00:00:00:00:09"],
            "testpmd: --eth-peer: invalid port 9 (1 port given)",
            2
        },
        { ["-l", "0", "--vdev", "net_virtio_user0,path=/tmp/x.sock"], "testpmd: no forwarding lcore: -l needs at least two lcores (lcore 0 is the main one), e.g. -l 0-1", 2 },
        { ["-l", "0-1", "--", "--capture-count=10"], "testpmd: --capture-snaplen and --capture-count need --capture=FILE", 2 },
        { ["-l", "0-1", "--", "--capture=/tmp/x.pcapng", "--capture-snaplen=0"], "testpmd: invalid value '0' for --capture-snaplen: expected an integer in 1..262144", 2 },
        { ["-l", "0-1", "--"], "testpmd: no ports: give a device with --vdev (e.g. --vdev net_virtio_user0,path=/tmp/vhost.sock) or use -i and 'port attach'", 2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_input_gets_one_line_on_stderr_and_an_exit_code(string[] args, string expected, int exitCode)
    {
        if (File.Exists(NoBackendSocket)) File.Delete(NoBackendSocket);
        using var ours = TestPmdProcess.Run(args);
        var errorLines = ours.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal([expected], errorLines);
        Assert.Equal(exitCode, ours.ExitCode);
        Assert.DoesNotContain("   at ", ours.Stdout + ours.Stderr);
    }

    [Fact]
    public void Help_prints_the_usage_and_exits_zero()
    {
        using var ours = TestPmdProcess.Run("--help");
        Assert.Equal(0, ours.ExitCode);
        Assert.Contains("Usage: testpmd [EAL options] -- [testpmd options]", ours.Stdout);
        Assert.Contains("--forward-mode=MODE", ours.Stdout);
        Assert.Equal("", ours.Stderr);
    }
}
