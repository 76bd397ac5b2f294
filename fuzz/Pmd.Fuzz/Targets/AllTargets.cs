namespace Pmd.Fuzz.Targets;

/// <summary>
/// Every target, by the name run.sh and the corpus folders use. Targets are made only when asked
/// for: in an instrumented build, code of the instrumented assemblies (a target's constructor
/// included) may run only after SharpFuzz has set up afl's shared memory.
/// </summary>
internal static class AllTargets
{
    private static readonly (string Name, Func<FuzzTarget> Create)[] Table =
    [
        ("split-ring", () => new SplitRingTarget()),
        ("packed-ring", () => new PackedRingTarget()),
        ("rx-mergeable", () => new MergeableRxTarget()),
        ("vhost-user-reply", () => new VhostUserReplyTarget()),
        ("devargs", () => new DevArgsTarget()),
        ("testpmd-cmdline", () => new TestPmdCommandLineTarget()),
        ("pci-caps", () => new PciCapabilitiesTarget()),
        ("e1000e-rx", () => new E1000eRxTarget()),
        ("e1000e-tx", () => new E1000eTxTarget()),
    ];

    public static IEnumerable<string> Names => Table.Select(t => t.Name);

    public static Func<FuzzTarget>? Find(string name) => Table.FirstOrDefault(t => t.Name == name).Create;
}
