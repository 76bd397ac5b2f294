namespace Pmd.Vm.Tests;

/// <summary>
/// How TestPmd's console shows a link flap. TestPmd prints port events in testpmd's words,
/// "Port 0: link state change event" plus a detail such as "(down)"/"(up)". This is the one place
/// that decides what counts, so it can be adjusted to TestPmd's final wording.
/// </summary>
public static class LinkEvents
{
    private static IEnumerable<string> EventLines(string output) =>
        output.Split('\n').Where(l => l.Contains("link state change event", StringComparison.OrdinalIgnoreCase));

    /// <summary>A link-down event appears in <paramref name="output"/> (text printed after set_link off).</summary>
    public static bool ShowsDown(string output) =>
        EventLines(output).Any(l => l.Contains("down", StringComparison.OrdinalIgnoreCase))
        // A detail-less event after set_link off can only mean down.
        || EventLines(output).Any(l => !l.Contains("up", StringComparison.OrdinalIgnoreCase));

    /// <summary>A link-up event appears in <paramref name="output"/> (text printed after set_link on).</summary>
    public static bool ShowsUp(string output) =>
        EventLines(output).Any(l => l.Contains("up", StringComparison.OrdinalIgnoreCase))
        || EventLines(output).Any(l => !l.Contains("down", StringComparison.OrdinalIgnoreCase));
}
