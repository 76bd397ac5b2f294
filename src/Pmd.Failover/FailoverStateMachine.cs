using Microsoft.Extensions.Logging;
using static Pmd.Failover.FailoverState;

namespace Pmd.Failover;

/// <summary>
/// The checked transitions of a failover port's primary. Moves happen on the control thread under
/// the failover port's lock; a move the table does not allow is a bug, and throws.
/// </summary>
internal sealed class FailoverStateMachine(string port, ILogger log)
{
    private static readonly Dictionary<FailoverState, FailoverState[]> Allowed = new()
    {
        [StandbyOnly] = [Paired, Attaching],
        [Paired] = [Attaching, Releasing],
        // A primary that fails to start is given back (unclaimed) at once.
        [Attaching] = [PrimaryActive, PrimaryLinkDown, StandbyOnly],
        [PrimaryActive] = [PrimaryLinkDown, Releasing, Paired],
        [PrimaryLinkDown] = [PrimaryActive, Releasing, Paired],
        [Releasing] = [Closing],
        [Closing] = [StandbyOnly],
    };

    public FailoverState State { get; private set; } = StandbyOnly;

    public void Move(FailoverState next)
    {
        if (State == next) return;
        if (!Allowed[State].Contains(next))
            throw new InvalidOperationException($"{port}: the failover state cannot go from {State} to {next}");
        FailoverLog.StateChanged(log, port, State, next);
        State = next;
    }

    /// <summary>Whether TX uses the primary in <paramref name="state"/>.</summary>
    public static bool TxOnPrimary(FailoverState state) => state == PrimaryActive;

    /// <summary>Whether RX polls the primary in <paramref name="state"/>: while it runs, and while it drains before its release.</summary>
    public static bool RxPollsPrimary(FailoverState state) => state is PrimaryActive or PrimaryLinkDown or Releasing;
}
