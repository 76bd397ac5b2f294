namespace Pmd.Fuzz.Targets;

/// <summary>Every target, by the name run.sh and the corpus folders use.</summary>
internal static class AllTargets
{
    public static IReadOnlyList<FuzzTarget> Create() =>
    [
        new SplitRingTarget(),
        new PackedRingTarget(),
        new MergeableRxTarget(),
        new VhostUserReplyTarget(),
        new DevArgsTarget(),
        new TestPmdCommandLineTarget(),
        new PciCapabilitiesTarget(),
        new E1000eRxTarget(),
        new E1000eTxTarget(),
    ];

    public static FuzzTarget? Find(string name) => Create().FirstOrDefault(t => t.Name == name);

    public static IEnumerable<string> Names => Create().Select(t => t.Name);
}
