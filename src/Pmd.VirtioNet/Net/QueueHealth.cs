using Microsoft.Extensions.Logging;
using Pmd.Threading;

namespace Pmd.VirtioNet.Net;

/// <summary>
/// Looks at a started port's queues once a second, off the datapath, and logs what the device did
/// wrong since the last look: a new stall (ring state that cannot be), or the first rejected used
/// entries of a queue. The datapath only counts; one line per episode is written here, on the
/// control thread, so a device that lies at line rate cannot flood the log. A queue still stalled
/// at the next look (a second or more) will not mend by itself: the device's own state is off, so
/// <c>onLastingStall</c> is called for the port to give the device fresh rings.
/// </summary>
internal sealed class QueueHealth : IDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private readonly string _port;
    private readonly VirtioRxQueue[] _rx;
    private readonly VirtioTxQueue[] _tx;
    private readonly ControlThread? _control;
    private readonly ILogger _log;
    private readonly ulong[] _stallsSeen;
    private readonly bool[] _corruptLogged;
    private readonly bool[] _stalledBefore;
    private readonly Action _onLastingStall;
    private readonly Timer _timer;

    public QueueHealth(string port, VirtioRxQueue[] rx, VirtioTxQueue[] tx, ControlThread? control, ILogger log, Action onLastingStall)
    {
        _onLastingStall = onLastingStall;
        _port = port;
        _rx = rx;
        _tx = tx;
        _control = control;
        _log = log;
        _stallsSeen = new ulong[rx.Length + tx.Length];
        _corruptLogged = new bool[rx.Length + tx.Length];
        _stalledBefore = new bool[rx.Length + tx.Length];
        _timer = new Timer(_ => Tick(), null, Period, Period);
    }

    private void Tick()
    {
        if (_control is { } control) control.Post(Check);
        else Check();
    }

    /// <summary>Compares each queue's counters with the last look; public for tests, which call it directly.</summary>
    public void Check()
    {
        bool lasting = false;
        for (int i = 0; i < _rx.Length; i++) lasting |= Look(i, "rx", i, _rx[i].Stalls, _rx[i].IsStalled, _rx[i].CorruptEntries);
        for (int i = 0; i < _tx.Length; i++) lasting |= Look(_rx.Length + i, "tx", i, _tx[i].Stalls, _tx[i].IsStalled, _tx[i].CorruptEntries);
        if (lasting) _onLastingStall();
    }

    /// <summary>Logs what is new on one queue; true when it was stalled at the last look and still is.</summary>
    private bool Look(int slot, string direction, int queue, ulong stalls, bool stalled, ulong corrupt)
    {
        if (stalls != _stallsSeen[slot])
        {
            _stallsSeen[slot] = stalls;
            VirtioNetLog.QueueStalled(_log, _port, direction, queue, stalls);
        }
        if (corrupt != 0 && !_corruptLogged[slot])
        {
            _corruptLogged[slot] = true;
            VirtioNetLog.CorruptEntries(_log, _port, direction, queue, corrupt);
        }
        bool lasting = stalled && _stalledBefore[slot];
        _stalledBefore[slot] = stalled;
        return lasting;
    }

    public void Dispose() => _timer.Dispose();
}
