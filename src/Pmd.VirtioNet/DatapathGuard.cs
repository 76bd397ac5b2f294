using System.Runtime.InteropServices;

namespace Pmd.VirtioNet;

/// <summary>
/// Lets the control thread take a port's queues away while lcores keep calling its bursts (a
/// backend restart is handled without the app), with no lock in the burst. Every RX and TX queue
/// has an epoch, odd while a burst runs. The control thread first publishes empty queue arrays,
/// then waits until each epoch is even or has moved on: a burst that starts after the publish
/// cannot see the old queues, so they may then be drained and their memory freed.
/// One thread per queue at a time (the burst contract) makes entering a plain increment.
/// </summary>
internal sealed class DatapathGuard(int rxQueues, int txQueues)
{
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    private struct Epoch
    {
        [FieldOffset(0)] public long Value;
    }

    // RX and TX of one queue may run on different threads: separate lines, so they never share one.
    private readonly Epoch[] _rx = new Epoch[rxQueues];
    private readonly Epoch[] _tx = new Epoch[txQueues];

    public int RxQueues => _rx.Length;

    public int TxQueues => _tx.Length;

    /// <summary>
    /// Marks a burst as started. The interlocked add is a full fence: the caller's following read
    /// of the queue array cannot move before it (x86 would otherwise let the load pass the store).
    /// </summary>
    public void EnterRx(int queue) => Interlocked.Increment(ref _rx[queue].Value);

    /// <summary>Marks the burst as done; a release store, after everything the burst touched.</summary>
    public void ExitRx(int queue) => Volatile.Write(ref _rx[queue].Value, _rx[queue].Value + 1);

    public void EnterTx(int queue) => Interlocked.Increment(ref _tx[queue].Value);

    public void ExitTx(int queue) => Volatile.Write(ref _tx[queue].Value, _tx[queue].Value + 1);

    /// <summary>
    /// Waits until every burst that was running when this was called has finished. Bursts are
    /// short and never block, so this returns within microseconds; <paramref name="slow"/> is
    /// called once if it takes longer than a second (a stalled lcore), and the wait goes on:
    /// freeing rings under a running burst would be worse than waiting.
    /// </summary>
    public void WaitForQuiescence(Action slow)
    {
        Interlocked.MemoryBarrier();
        long start = Environment.TickCount64;
        bool warned = false;
        WaitAll(_rx, start, ref warned, slow);
        WaitAll(_tx, start, ref warned, slow);
    }

    private static void WaitAll(Epoch[] epochs, long start, ref bool warned, Action slow)
    {
        for (int q = 0; q < epochs.Length; q++)
        {
            long seen = Volatile.Read(ref epochs[q].Value);
            if ((seen & 1) == 0) continue;
            var spin = new SpinWait();
            while (Volatile.Read(ref epochs[q].Value) == seen)
            {
                if (!warned && Environment.TickCount64 - start > 1000)
                {
                    warned = true;
                    slow();
                }
                spin.SpinOnce();
            }
        }
    }
}
