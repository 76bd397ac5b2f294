using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Failover;

/// <summary>Release: a primary that is removed or asked for by the hypervisor is let go of, fast, without losing what it accepted.</summary>
public sealed partial class FailoverPort
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(5);

    private void OnPrimaryGone(PortEvent e, string why)
    {
        var primary = _primary;
        if (primary is null || e.PortId != primary.PortId) return;
        Release(primary, why);
    }

    /// <summary>
    /// TX moves to the standby first; then the primary finishes what it accepted while RX still
    /// polls it; then RX lets go too, and the primary is stopped, closed (for VFIO: the device fd,
    /// which ends a hypervisor's wait-unplug) and detached.
    /// </summary>
    private void Release(EthPort primary, string why)
    {
        var clock = Stopwatch.StartNew();
        lock (_controlLock)
        {
            if (_primary != primary || _machine.State is FailoverState.StandbyOnly or FailoverState.Releasing or FailoverState.Closing) return;
            bool wasRunning = _machine.State is FailoverState.PrimaryActive or FailoverState.PrimaryLinkDown;
            bool hadTx = _machine.State == FailoverState.PrimaryActive;
            // No log line before the device is closed: the first one a process writes costs hundreds of
            // ms of JIT under emulation, and the hypervisor is waiting. Released (below) says it all.
            _machine.Move(FailoverState.Releasing);
            PublishViews();
            if (hadTx)
            {
                _counters.SwitchesToStandby++;
                AnnounceSwitch();
                RaiseEvent(PortEventType.Failover, $"standby ({why})");
            }
            _counters.LastFallbackMs = (ulong)clock.ElapsedMilliseconds;
            var timeline = new ReleaseTimeline { TxOff = Microseconds(clock) };
            int pending = wasRunning ? DrainTx(primary) : 0;
            timeline.Drained = Microseconds(clock);
            _machine.Move(FailoverState.Closing);
            PublishViews();
            timeline.RxOff = Microseconds(clock);
            _counters.PrimaryTxLost += (ulong)Math.Max(0, pending);
            _counters.PrimaryRxAbandoned += CountAbandonedRx(primary);
            var retired = primary.GetStats();
            try
            {
                primary.Stop();
                timeline.Stopped = Microseconds(clock);
                // What the device completed between the count above and its stop was dropped by the
                // stop, and counted by the port as missed: left on the primary too.
                ulong missed = primary.GetStats().RxMissed;
                if (missed > retired.RxMissed)
                {
                    _counters.PrimaryRxAbandoned += missed - retired.RxMissed;
                    retired.RxMissed = missed;
                }
                primary.Close();
            }
            catch (Exception e)
            {
                FailoverLog.CloseFailed(_log, e, Name, primary.PortId);
            }
            _retiredStats += retired;
            timeline.Closed = Microseconds(clock);
            _counters.LastRelease = timeline;
            _registry.UnsetOwner(primary.PortId, _owner);
            if (_registry.TryGet(primary.PortId, out var same) && same == primary) _registry.Detach(primary.PortId);
            _primary = null;
            _machine.Move(FailoverState.StandbyOnly);
            FailoverLog.Released(_log, Name, primary.PortId, clock.ElapsedMilliseconds, why, pending);
        }
    }

    private static ulong Microseconds(Stopwatch clock) => (ulong)(clock.Elapsed.Ticks / 10);

    /// <summary>
    /// Waits for the primary's TX queues to complete; returns what is still outstanding. A device
    /// that keeps completing gets more time (up to <see cref="DrainLimit"/>); one that stops for
    /// <see cref="DrainTimeout"/>, or loses its link, is given up on.
    /// </summary>
    private int DrainTx(EthPort primary)
    {
        int queues = Config?.TxQueues ?? 0;
        var total = Stopwatch.StartNew();
        var stalled = Stopwatch.StartNew();
        int last = int.MaxValue;
        while (true)
        {
            int pending = 0;
            for (int q = 0; q < queues; q++) pending += Math.Max(0, primary.TxDoneCleanup(q));
            if (pending < last)
            {
                last = pending;
                stalled.Restart();
            }
            if (pending == 0 || stalled.Elapsed > DrainTimeout || total.Elapsed > DrainLimit || !primary.Link.Up) return pending;
            Thread.Sleep(1);
        }
    }

    private static ulong CountAbandonedRx(EthPort primary)
    {
        // Frames still on the primary's RX ring: nobody polls it any more, so count them here.
        ulong n = 0;
        Span<Mbuf> burst = stackalloc Mbuf[32];
        int queues = primary.IsStarted ? primary.Config?.RxQueues ?? 0 : 0;
        for (int q = 0; q < queues; q++)
        {
            int got;
            while ((got = primary.RxBurst(q, burst)) > 0)
            {
                n += (ulong)got;
                Mbuf.Free(burst[..got]);
            }
        }
        return n;
    }
}
