using Pmd.Interop;

namespace Pmd.Threading;

/// <summary>A Linux eventfd: a counter that one side signals and another reads or polls.</summary>
internal sealed unsafe class EventFd : IDisposable
{
    private readonly SafeFdHandle _handle;

    public EventFd(bool nonBlocking = true)
    {
        var flags = Libc.EventFdFlags.CloExec | (nonBlocking ? Libc.EventFdFlags.NonBlock : 0);
        _handle = SafeFdHandle.FromResult(Libc.EventFd(0, flags), "eventfd");
    }

    public int Fd => _handle.Fd;

    public SafeFdHandle Handle => _handle;

    /// <summary>Adds one to the counter; wakes whoever polls it.</summary>
    public void Signal()
    {
        ulong one = 1;
        Libc.Write(_handle.Fd, &one, sizeof(ulong));
    }

    /// <summary>Reads and resets the counter; 0 when nothing was signalled (non-blocking).</summary>
    public ulong Drain()
    {
        ulong value = 0;
        return Libc.Read(_handle.Fd, &value, sizeof(ulong)) == sizeof(ulong) ? value : 0;
    }

    public void Dispose() => _handle.Dispose();
}
