namespace Pmd.TestPmd.Options;

/// <summary>
/// The EAL side of the command line (before "--"): devices, lcores and memory. DPDK-only flags a
/// user may paste from a DPDK command line are accepted and ignored, so the same line runs both.
/// </summary>
internal sealed class EalOptions
{
    /// <summary>Device strings in the order given (--vdev and -a interleaved): port ids follow this order.</summary>
    public List<string> Devices { get; } = [];

    /// <summary>The lcores of "-l", lowest first; null when not given (then every CPU, as in DPDK).</summary>
    public IReadOnlyList<int>? Lcores { get; private set; }

    public int? MainLcore { get; private set; }

    /// <summary>--iova-mode=va|pa: what devices see as our addresses (VA unless an IOMMU cannot reach them).</summary>
    public Pmd.Memory.IovaMode IovaMode { get; private set; } = Pmd.Memory.IovaMode.VirtualAddress;

    /// <summary>The --log-level options, in order: a later rule for the same loggers wins. Warning and up when none.</summary>
    public List<LogLevelRule> LogLevels { get; } = [];

    /// <summary>--no-huge: mempools on 4 KiB pages.</summary>
    public bool NoHugePages { get; private set; }

    /// <summary>--file-prefix: names DPDK's runtime directory, where the telemetry socket goes. Default "rte".</summary>
    public string FilePrefix { get; private set; } = "rte";

    /// <summary>The telemetry socket (dpdk-telemetry.py's), on unless --no-telemetry.</summary>
    public bool Telemetry { get; private set; } = true;

    public static EalOptions Parse(IReadOnlyList<string> args)
    {
        var o = new EalOptions();
        var r = new ArgReader(args);
        while (r.HasMore)
        {
            string flag = r.NextFlag();
            switch (flag)
            {
                case "--vdev":
                    o.Devices.Add(NonEmpty(flag, r.Value(flag)));
                    break;
                case "-a" or "--allow" or "-w":
                    o.Devices.Add(NonEmpty(flag, r.Value(flag)));
                    break;
                case "-l" or "--lcores":
                    o.Lcores = LcoreList.Parse(r.Value(flag));
                    break;
                case "--main-lcore" or "--master-lcore":
                    o.MainLcore = r.IntValue(flag, 0, LcoreList.MaxLcore);
                    break;
                case "--no-huge":
                    r.RejectValue(flag);
                    o.NoHugePages = true;
                    break;
                // DPDK-only: meaningful to DPDK's EAL, nothing to do here.
                case "--no-telemetry":
                    r.RejectValue(flag);
                    o.Telemetry = false;
                    break;
                case "--telemetry":
                    r.RejectValue(flag);
                    o.Telemetry = true;
                    break;
                case "--file-prefix":
                    o.FilePrefix = r.Value(flag);
                    if (o.FilePrefix.Length == 0 || o.FilePrefix.Contains('/') || o.FilePrefix is "." or "..")
                        throw new UsageException($"invalid --file-prefix '{o.FilePrefix}': expected a name without '/'");
                    break;
                case "--no-pci" or "--in-memory" or "--single-file-segments" or "--no-shconf":
                    r.RejectValue(flag);
                    break;
                case "--iova-mode":
                    o.IovaMode = r.Value(flag) switch
                    {
                        "va" => Pmd.Memory.IovaMode.VirtualAddress,
                        "pa" => Pmd.Memory.IovaMode.PhysicalAddress,
                        var other => throw new UsageException($"--iova-mode must be va or pa, not '{other}'"),
                    };
                    break;
                case "--log-level":
                    o.LogLevels.Add(LogLevelRule.Parse(r.Value(flag)));
                    break;
                case "-m" or "--socket-mem" or "-n" or "--proc-type" or "--huge-dir":
                    r.Value(flag);
                    break;
                case "-h" or "--help":
                    throw new HelpRequested();
                default:
                    throw new UsageException(flag.StartsWith('-')
                        ? $"unknown EAL option '{flag}' (see --help)"
                        : $"unexpected argument '{flag}' before '--' (see --help)");
            }
        }
        if (o.MainLcore is int main && o.Lcores is { } lcores && !lcores.Contains(main))
            throw new UsageException($"--main-lcore {main} is not in the lcore list given with -l");
        return o;
    }

    private static string NonEmpty(string flag, string value) =>
        string.IsNullOrWhiteSpace(value) ? throw new UsageException($"option {flag} requires a device string") : value;
}

/// <summary>--help anywhere: print the usage and exit 0.</summary>
internal sealed class HelpRequested : Exception;
