namespace Pmd.Ethdev;

/// <summary>The port life cycle: configure, then start and stop any number of times, then close.</summary>
public enum PortState
{
    Unconfigured,
    Configured,
    Started,
    Stopped,
    Closed,
}
