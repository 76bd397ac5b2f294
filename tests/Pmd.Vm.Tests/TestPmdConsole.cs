namespace Pmd.Vm.Tests;

/// <summary>
/// The host's end of TestPmd's console in a guest started with <see cref="GuestScripts.TestPmdInteractive"/>:
/// commands are appended to a file in the results share, which the guest feeds to TestPmd's stdin;
/// TestPmd's answers land in the guest's output (<see cref="TestPmdCounters"/> reads them).
/// </summary>
public static class TestPmdConsole
{
    /// <summary>Queues <paramref name="commands"/>, one per line, in this order; the guest polls the file every 0.2 s.</summary>
    public static void Send(VmGuest vm, params string[] commands) => SendTo(vm, run: 1, commands);

    /// <summary>Queues <paramref name="commands"/> for TestPmd's <paramref name="run"/>-th start in the guest (see <see cref="GuestScripts.TestPmdInteractive"/>).</summary>
    public static void SendTo(VmGuest vm, int run, params string[] commands) =>
        // One write of whole lines: the guest's feeder never sees a command cut in two.
        File.AppendAllText(Path.Combine(vm.ResultsDir, GuestScripts.TestPmdCommandsFile + (run > 1 ? $"-{run}" : "")), string.Concat(commands.Select(c => c + "\n")));

    /// <summary>Sends "set verbose <paramref name="to"/>" and waits for TestPmd's answer; returns where the guest output stood just after it.</summary>
    public static async Task<int> SetVerboseAsync(VmGuest vm, int from, int to, CancellationToken ct)
    {
        int mark = vm.GuestOutput.Length;
        Send(vm, $"set verbose {to}");
        string answer = $"Change verbose level from {from} to {to}";
        await vm.WaitForSerialAsync(_ => vm.GuestOutput.IndexOf(answer, mark, StringComparison.Ordinal) >= 0, TimeSpan.FromSeconds(30), $"TestPmd's answer to set verbose {to}", ct);
        return vm.GuestOutput.IndexOf(answer, mark, StringComparison.Ordinal) + answer.Length;
    }
}
