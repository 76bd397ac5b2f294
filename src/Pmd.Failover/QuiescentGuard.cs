using System.Runtime.InteropServices;

namespace Pmd.Failover;

/// <summary>
/// Lets the control thread wait until no datapath thread is still inside a burst that may use an
/// old primary, without any lock in the burst. Each queue has an epoch: odd while a burst runs,
/// even between bursts. A writer first unpublishes the primary, then waits, per queue, until the
/// epoch is even or has moved on: any burst that started after the unpublish cannot see it.
/// Entering is exclusive per queue, so the control thread may also enter a queue to send a frame
/// of its own (a MAC announcement) between the datapath's bursts; the datapath thread then waits
/// the few microseconds that takes.
/// </summary>
internal sealed class QuiescentGuard(int queues)
{
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    private struct Epoch
    {
        [FieldOffset(0)] public long Value;
    }

    private readonly Epoch[] _epochs = new Epoch[queues];

    public int Queues => _epochs.Length;

    /// <summary>
    /// Marks a burst on <paramref name="queue"/> as started, once no one else is inside; a full
    /// fence, so the caller's next read of the primary happens after it.
    /// </summary>
    public void Enter(int queue)
    {
        ref long epoch = ref _epochs[queue].Value;
        long seen = Volatile.Read(ref epoch);
        if ((seen & 1) != 0 || Interlocked.CompareExchange(ref epoch, seen + 1, seen) != seen) EnterContended(ref epoch);
    }

    private static void EnterContended(ref long epoch)
    {
        var spin = new SpinWait();
        while (true)
        {
            long seen = Volatile.Read(ref epoch);
            if ((seen & 1) == 0 && Interlocked.CompareExchange(ref epoch, seen + 1, seen) == seen) return;
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Marks the burst as done (release: the burst's accesses come before it).</summary>
    public void Exit(int queue) => Volatile.Write(ref _epochs[queue].Value, _epochs[queue].Value + 1);

    /// <summary>Waits until every burst that was running when this was called has finished.</summary>
    public bool WaitForQuiescence(TimeSpan timeout)
    {
        // Order the caller's unpublish before reading the epochs.
        Interlocked.MemoryBarrier();
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        for (int q = 0; q < _epochs.Length; q++)
        {
            long seen = Volatile.Read(ref _epochs[q].Value);
            if ((seen & 1) == 0) continue;
            var spin = new SpinWait();
            while (Volatile.Read(ref _epochs[q].Value) == seen)
            {
                if (Environment.TickCount64 > deadline) return false;
                spin.SpinOnce();
            }
        }
        return true;
    }
}
