using Pmd.Timing;

namespace Pmd.Capture;

/// <summary>
/// Turns the datapath's timestamps (<see cref="CycleCounter"/> ticks, one read per burst and no
/// system call) into nanoseconds since the Unix epoch, from one pairing of the counter with the
/// wall clock taken when the capture starts. The counter is monotonic, so the packets' times are
/// too, even if the wall clock is stepped during the capture.
/// </summary>
internal readonly struct CaptureClock
{
    private const long NanosPerSecond = 1_000_000_000;
    private readonly long _ticks0;
    private readonly long _unixNanos0;
    private readonly long _frequency;

    private CaptureClock(long ticks0, long unixNanos0, long frequency)
    {
        _ticks0 = ticks0;
        _unixNanos0 = unixNanos0;
        _frequency = frequency;
    }

    public static CaptureClock Calibrate()
    {
        long frequency = CycleCounter.Frequency;
        // The wall clock read between two counter reads is paired with their midpoint.
        long before = CycleCounter.Read();
        long wall = DateTime.UtcNow.Ticks;
        long after = CycleCounter.Read();
        long unixNanos = (wall - DateTime.UnixEpoch.Ticks) * 100;
        return new CaptureClock(before + (after - before) / 2, unixNanos, frequency);
    }

    public ulong ToUnixNanoseconds(long ticks)
    {
        long seconds = Math.DivRem(ticks - _ticks0, _frequency, out long rest);
        return (ulong)(_unixNanos0 + seconds * NanosPerSecond + rest * NanosPerSecond / _frequency);
    }

    public ulong Now() => ToUnixNanoseconds(CycleCounter.Read());

    /// <summary>Counter ticks in <paramref name="microseconds"/>.</summary>
    public long Ticks(int microseconds) => _frequency * microseconds / 1_000_000;
}
