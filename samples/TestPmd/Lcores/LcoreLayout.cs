using Pmd.TestPmd.Options;

namespace Pmd.TestPmd.Lcores;

/// <summary>
/// Which CPU is the main lcore (commands, statistics, control) and which ones forward, as EAL
/// decides it: the lowest lcore of "-l" is the main one unless --main-lcore names another, and
/// every other lcore is a forwarding thread pinned to that CPU.
/// </summary>
internal sealed record LcoreLayout(int Main, IReadOnlyList<int> Forwarding)
{
    public static LcoreLayout Resolve(EalOptions eal, AppOptions app)
    {
        int cpus = Environment.ProcessorCount;
        var lcores = eal.Lcores ?? [.. Enumerable.Range(0, cpus)];
        foreach (int cpu in lcores)
        {
            if (cpu >= cpus)
                throw new UsageException($"lcore {cpu} does not exist: this machine has CPUs 0-{cpus - 1}");
        }
        int main = eal.MainLcore ?? lcores[0];
        if (main >= cpus) throw new UsageException($"--main-lcore {main} does not exist: this machine has CPUs 0-{cpus - 1}");
        var forwarding = lcores.Where(c => c != main).ToList();
        if (forwarding.Count == 0)
            throw new UsageException($"no forwarding lcore: -l needs at least two lcores (lcore {main} is the main one), e.g. -l 0-1");
        if (app.ForwardingCores > forwarding.Count)
            throw new UsageException($"--nb-cores={app.ForwardingCores} is more than the {forwarding.Count} forwarding lcore(s) given with -l (the main lcore does not forward)");
        return new LcoreLayout(main, forwarding);
    }
}
