using System.Collections;
using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// An lcore of the test: sends sequenced frames on queue 0 and checks every one that a forwarding
/// backend brings back, on its own thread, while the test kills and restarts the backend. Each
/// sequence number may come back at most once (a duplicate or an unknown one fails the test).
/// At most <see cref="Window"/> frames are in flight; frames in flight when the backend died are
/// written off once nothing has come back for a while.
/// </summary>
internal sealed class TrafficPump : IDisposable
{
    private const int Window = 128, Length = 256, MaxFrames = 1 << 26;
    private readonly EthPort _port;
    private readonly Mempool _pool;
    private readonly Thread _thread;
    private readonly BitArray _seen = new(MaxFrames);
    private volatile bool _stop;
    private long _sent, _received, _writtenOff, _duplicates, _unknown;

    public TrafficPump(EthPort port, Mempool pool)
    {
        _port = port;
        _pool = pool;
        _thread = new Thread(Run) { IsBackground = true, Name = "pump" };
        _thread.Start();
    }

    public long Sent => Interlocked.Read(ref _sent);
    public long Received => Interlocked.Read(ref _received);
    public long WrittenOff => Interlocked.Read(ref _writtenOff);
    public long Duplicates => Interlocked.Read(ref _duplicates);
    public long Unknown => Interlocked.Read(ref _unknown);
    public Exception? Failure { get; private set; }

    /// <summary>Waits until <paramref name="count"/> more frames than <paramref name="from"/> came back; false on timeout.</summary>
    public bool WaitForReceived(long from, long count, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (Received < from + count)
        {
            if (watch.Elapsed > timeout || Failure is not null) return false;
            Thread.Sleep(1);
        }
        return true;
    }

    private void Run()
    {
        var tx = new Mbuf[32];
        var rx = new Mbuf[32];
        var idle = Stopwatch.StartNew();
        try
        {
            while (!_stop)
            {
                long inFlight = _sent - _received - _writtenOff;
                int room = (int)Math.Min(Window - inFlight, tx.Length);
                if (room > 0 && _sent + room < MaxFrames)
                {
                    for (int i = 0; i < room; i++) tx[i] = Frames.Build(_pool, (uint)(_sent + i), Length, _port.MacAddress, VhostPeer.PeerMac);
                    int sent = _port.TxBurst(0, tx.AsSpan(0, room));
                    Mbuf.Free(tx.AsSpan(sent, room - sent));
                    Interlocked.Add(ref _sent, sent);
                }
                int n = _port.RxBurst(0, rx);
                for (int i = 0; i < n; i++)
                {
                    uint seq = Frames.Verify(rx[i]);
                    rx[i].Free();
                    if (seq >= _sent) Interlocked.Increment(ref _unknown);
                    else if (_seen[(int)seq]) Interlocked.Increment(ref _duplicates);
                    else _seen[(int)seq] = true;
                }
                if (n > 0)
                {
                    Interlocked.Add(ref _received, n);
                    idle.Restart();
                }
                else if (idle.ElapsedMilliseconds > 100 && _sent - _received - _writtenOff > 0)
                {
                    // Nothing came back for 100 ms: what is out there died with the backend.
                    Interlocked.Exchange(ref _writtenOff, _sent - _received);
                    idle.Restart();
                }
            }
        }
        catch (Exception e)
        {
            Failure = e;
        }
    }

    /// <summary>Stops sending, then keeps receiving until nothing has come back for 200 ms.</summary>
    public void Stop()
    {
        _stop = true;
        _thread.Join();
        var rx = new Mbuf[32];
        var quiet = Stopwatch.StartNew();
        while (quiet.ElapsedMilliseconds < 200)
        {
            int n = _port.RxBurst(0, rx);
            for (int i = 0; i < n; i++)
            {
                uint seq = Frames.Verify(rx[i]);
                rx[i].Free();
                if (seq >= _sent) _unknown++;
                else if (_seen[(int)seq]) _duplicates++;
                else _seen[(int)seq] = true;
            }
            if (n > 0)
            {
                _received += n;
                quiet.Restart();
            }
        }
    }

    public void Dispose()
    {
        if (!_stop) Stop();
    }
}
