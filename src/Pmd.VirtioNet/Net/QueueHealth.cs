using Microsoft.Extensions.Logging;
using Pmd.Hotplug;

namespace Pmd.VirtioNet.Net;

/// <summary>
/// Looks at a started port's queues once a second, off the datapath, and logs what the device did
/// wrong since the last look: a new stall (ring state that cannot be), or the first rejected used
/// entries of a queue. The datapath only counts; one line per episode is written here, on the
/// control thread, so a device that lies at line rate cannot flood the log.
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
    private readonly Timer _timer;

    public QueueHealth(string port, VirtioRxQueue[] rx, VirtioTxQueue[] tx, ControlThread? control, ILogger log)
    {
        _port = port;
        _rx = rx;
        _tx = tx;
        _control = control;
        _log = log;
        _stallsSeen = new ulong[rx.Length + tx.Length];
        _corruptLogged = new bool[rx.Length + tx.Length];
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
        for (int i = 0; i < _rx.Length; i++) Look(i, "rx", i, _rx[i].Stalls, _rx[i].CorruptEntries);
        for (int i = 0; i < _tx.Length; i++) Look(_rx.Length + i, "tx", i, _tx[i].Stalls, _tx[i].CorruptEntries);
    }

    private void Look(int slot, string direction, int queue, ulong stalls, ulong corrupt)
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
    }

    public void Dispose() => _timer.Dispose();
}
