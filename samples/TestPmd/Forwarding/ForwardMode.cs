namespace Pmd.TestPmd.Forwarding;

/// <summary>testpmd's forwarding modes that make sense without offload-specific hardware, and csum.</summary>
internal enum ForwardMode
{
    Io,
    Mac,
    MacSwap,
    RxOnly,
    TxOnly,
    FlowGen,
    IcmpEcho,
    Csum,
}

internal static class ForwardModes
{
    public const string Names = "io, mac, macswap, rxonly, txonly, flowgen, icmpecho, csum";

    public static bool TryParse(string text, out ForwardMode mode)
    {
        switch (text)
        {
            case "io": mode = ForwardMode.Io; return true;
            case "mac": mode = ForwardMode.Mac; return true;
            case "macswap": mode = ForwardMode.MacSwap; return true;
            case "rxonly": mode = ForwardMode.RxOnly; return true;
            case "txonly": mode = ForwardMode.TxOnly; return true;
            case "flowgen": mode = ForwardMode.FlowGen; return true;
            case "icmpecho": mode = ForwardMode.IcmpEcho; return true;
            case "csum": mode = ForwardMode.Csum; return true;
            default: mode = default; return false;
        }
    }

    public static string Name(this ForwardMode mode) => mode switch
    {
        ForwardMode.Io => "io",
        ForwardMode.Mac => "mac",
        ForwardMode.MacSwap => "macswap",
        ForwardMode.RxOnly => "rxonly",
        ForwardMode.TxOnly => "txonly",
        ForwardMode.FlowGen => "flowgen",
        ForwardMode.IcmpEcho => "icmpecho",
        ForwardMode.Csum => "csum",
        _ => mode.ToString(),
    };
}
