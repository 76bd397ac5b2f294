using Pmd.Ethdev;

namespace Pmd.Telemetry;

/// <summary>
/// Answers one command: fills <paramref name="reply"/> and returns true, or returns false for
/// DPDK's null reply (a missing or bad parameter, a port that does not exist). Runs on a telemetry
/// client's thread, so it reads counters as "show port stats" does: never through the datapath.
/// </summary>
internal delegate bool TelemetryHandler(PortRegistry registry, string? parameters, TelemetryReply reply);

internal sealed record TelemetryCommand(string Name, string Help, TelemetryHandler Handler);

/// <summary>
/// The commands every telemetry socket of the process answers, kept in name order, as DPDK keeps
/// rte_telemetry_register_cmd's table: the core's (<c>/</c>, <c>/info</c>, <c>/help</c>), ethdev's and
/// mempool's here; other assemblies add theirs (Pmd.Failover's <c>/failover/...</c>).
/// </summary>
internal static class TelemetryCommands
{
    /// <summary>DPDK's MAX_CMD_LEN: a command name is shorter than this.</summary>
    public const int MaxCommandLength = 56;

    private static readonly Lock s_lock = new();
    private static readonly SortedList<string, TelemetryCommand> s_commands = Builtins();

    private static SortedList<string, TelemetryCommand> Builtins()
    {
        var table = new SortedList<string, TelemetryCommand>(StringComparer.Ordinal);
        void Add(string name, string help, TelemetryHandler handler) => table[name] = new TelemetryCommand(name, help, handler);

        Add("/", "Returns list of available commands, Takes no parameters", ListCommands);
        Add("/info", "Returns DPDK Telemetry information. Takes no parameters", Info);
        Add("/help", "Returns help text for a command. Parameters: string command", Help);
        EthdevTelemetry.AddTo(Add);
        MempoolTelemetry.AddTo(Add);
        return table;
    }

    /// <summary>Adds (or replaces) a command; names start with '/' and are shorter than <see cref="MaxCommandLength"/>.</summary>
    public static void Register(string name, string help, TelemetryHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (name.Length is 0 or >= MaxCommandLength || name[0] != '/' || name.Contains(','))
            throw new ArgumentException($"telemetry command '{name}' must start with '/', have no ',' and be shorter than {MaxCommandLength} characters", nameof(name));
        lock (s_lock) s_commands[name] = new TelemetryCommand(name, help, handler);
    }

    public static bool TryGet(string name, out TelemetryCommand command)
    {
        lock (s_lock) return s_commands.TryGetValue(name, out command!);
    }

    public static IReadOnlyList<string> Names()
    {
        lock (s_lock) return [.. s_commands.Keys];
    }

    private static bool ListCommands(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        reply.StartArray();
        foreach (string name in Names()) reply.Add(name);
        return true;
    }

    private static bool Info(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        reply.StartDict();
        reply.Add("version", PmdTelemetry.Version);
        reply.Add("pid", Environment.ProcessId);
        reply.Add("max_output_len", PmdTelemetry.MaxOutputLength);
        return true;
    }

    /// <summary>"/help,/CMD": {"/CMD": its help}; "/help" alone answers with its own help, a string, as DPDK 22.11 does.</summary>
    private static bool Help(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        if (parameters is null)
        {
            if (!TryGet("/help", out var self)) return false;
            reply.SetString(self.Help);
            return true;
        }
        if (!TryGet(parameters, out var command)) return false;
        reply.StartDict();
        reply.Add(command.Name, command.Help);
        return true;
    }

    /// <summary>
    /// A port id parameter as DPDK's ethdev commands read it: it starts with a digit, the id is the
    /// leading number, and what follows a comma is for the command (e.g. xstats' hide_zero). The port
    /// must be attached (owned or not, as rte_eth_dev_is_valid_port).
    /// </summary>
    public static bool TryGetPort(PortRegistry registry, string? parameters, out EthPort port, out string? extra)
    {
        port = null!;
        extra = null;
        if (string.IsNullOrEmpty(parameters) || !char.IsAsciiDigit(parameters[0])) return false;
        int end = 0;
        while (end < parameters.Length && char.IsAsciiDigit(parameters[end])) end++;
        if (!ushort.TryParse(parameters.AsSpan(0, end), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort id))
            return false;
        if (end < parameters.Length && parameters[end] == ',') extra = parameters[(end + 1)..];
        return registry.TryGet(id, out port);
    }
}
