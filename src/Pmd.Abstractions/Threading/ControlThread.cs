using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Pmd.Interop;

namespace Pmd.Threading;

/// <summary>
/// The one control thread of a <see cref="Ethdev.PortRegistry"/>: an epoll loop over eventfds and
/// sockets (link-state interrupts, VFIO device requests, vhost-user sockets) plus a queue of work
/// posted from other threads. Event callbacks run here, never on a datapath thread.
/// A failing callback is logged and the loop goes on. If epoll itself fails (anything but EINTR),
/// the loop cannot go on: retrying the same fd would spin on the same error. Then the thread is
/// <see cref="Faulted"/>: the failure is logged once as critical, every waiting and later
/// <see cref="Invoke"/> throws <see cref="ControlThreadFaultedException"/> at once (instead of
/// timing out after 30 s), and <see cref="Post"/> and <see cref="Schedule"/> throw it too. The
/// datapath is not touched; an app that sees the fault restarts the registry, or exits.
/// </summary>
public sealed unsafe class ControlThread : IDisposable
{
    private readonly SafeFdHandle _epoll;
    private readonly EventFd _wakeup = new();
    private readonly ConcurrentQueue<Action> _work = new();
    private readonly ConcurrentDictionary<int, Action<FdEvents>> _handlers = new();
    // Timers are few (a reconnect's backoff), so a heap under a lock is plenty.
    private readonly PriorityQueue<Action, long> _timers = new();
    private readonly Lock _timersLock = new();
    private readonly Thread _thread;
    private readonly ILogger _log;
    private readonly TaskCompletionSource _fault = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    public ControlThread(string name = "pmd-ctrl", ILoggerFactory? loggerFactory = null)
    {
        _log = (loggerFactory ?? PmdLogging.Factory).CreateLogger("Pmd.ControlThread");
        _epoll = SafeFdHandle.FromResult(Libc.EpollCreate1(Libc.EPOLL_CLOEXEC), "epoll_create1");
        AddToEpoll(_wakeup.Fd);
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>True on the control thread itself.</summary>
    public bool IsCurrent => Thread.CurrentThread == _thread;

    public int ManagedThreadId => _thread.ManagedThreadId;

    /// <summary>The failure that stopped the loop, or null while it runs.</summary>
    public ControlThreadFaultedException? Fault => _fault.Task.Exception?.InnerException as ControlThreadFaultedException;

    /// <summary>True once the loop has stopped on a failure of epoll itself.</summary>
    public bool Faulted => _fault.Task.IsFaulted;

    /// <summary>Runs <paramref name="work"/> on the control thread, after work posted earlier.</summary>
    public void Post(Action work)
    {
        ThrowIfFaulted();
        _work.Enqueue(work);
        _wakeup.Signal();
    }

    /// <summary>Runs <paramref name="work"/> on the control thread once <paramref name="delay"/> has passed.</summary>
    public void Schedule(TimeSpan delay, Action work)
    {
        ThrowIfFaulted();
        long due = NowMs() + (long)Math.Ceiling(Math.Max(0, delay.TotalMilliseconds));
        lock (_timersLock) _timers.Enqueue(work, due);
        // Wake the loop so that it sleeps no longer than until this timer is due.
        _wakeup.Signal();
    }

    /// <summary>Runs <paramref name="work"/> on the control thread and waits for it (inline if already there).</summary>
    public void Invoke(Action work, TimeSpan? timeout = null)
    {
        if (IsCurrent) { work(); return; }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try { work(); done.SetResult(); }
            catch (Exception e) { done.SetException(e); }
        });
        // A fault while waiting ends the wait at once: the loop will never run the request.
        if (Task.WaitAny([done.Task, _fault.Task], timeout ?? TimeSpan.FromSeconds(30)) < 0)
            throw new TimeoutException("the control thread did not run the request in time");
        if (!done.Task.IsCompleted) ThrowIfFaulted();
        done.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Calls <paramref name="handler"/> on the control thread when <paramref name="fd"/> hangs up,
    /// and, when <paramref name="readable"/>, whenever it has data (level-triggered: read it).
    /// </summary>
    public void Watch(int fd, Action<FdEvents> handler, bool readable = true)
    {
        if (!_handlers.TryAdd(fd, handler)) throw new InvalidOperationException($"fd {fd} is already watched");
        try { AddToEpoll(fd, readable); }
        catch { _handlers.TryRemove(fd, out _); throw; }
    }

    /// <summary>Stops watching <paramref name="fd"/>; call before closing it.</summary>
    public void Unwatch(int fd)
    {
        if (!_handlers.TryRemove(fd, out _)) return;
        Libc.EpollCtl(_epoll.Fd, Libc.EPOLL_CTL_DEL, fd, null);
    }

    private void AddToEpoll(int fd, bool readable = true)
    {
        var ev = new Libc.EpollEvent { Events = (readable ? Libc.EpollEvents.In : 0) | Libc.EpollEvents.RdHup, Data = (ulong)fd };
        if (Libc.EpollCtl(_epoll.Fd, Libc.EPOLL_CTL_ADD, fd, &ev) != 0) throw Libc.Error($"epoll_ctl add fd {fd}");
    }

    private void Run()
    {
        const int MaxEvents = 32;
        var events = stackalloc Libc.EpollEvent[MaxEvents];
        while (!_stopping)
        {
            int n = Libc.EpollWait(_epoll.Fd, events, MaxEvents, MillisecondsToNextTimer());
            if (n < 0)
            {
                int errno = Libc.LastErrno;
                if (errno == Libc.EINTR) continue;
                var fault = new ControlThreadFaultedException($"the control thread stopped: epoll_wait failed: {Libc.Describe(errno)}");
                AbstractionsLog.ControlThreadFaulted(_log, fault);
                _fault.TrySetException(fault);
                return;
            }
            for (int i = 0; i < n; i++)
            {
                int fd = (int)events[i].Data;
                if (fd == _wakeup.Fd) { _wakeup.Drain(); continue; }
                if (_handlers.TryGetValue(fd, out var handler))
                    Guard(() => handler(ToFdEvents(events[i].Events)));
            }
            while (_work.TryDequeue(out var work)) Guard(work);
            RunDueTimers();
        }
    }

    private void ThrowIfFaulted()
    {
        if (Fault is { } fault) throw new ControlThreadFaultedException(fault.Message, fault);
    }

    /// <summary>The epoll fd, for the test that makes epoll_wait fail.</summary>
    internal int EpollFd => _epoll.Fd;

    /// <summary>
    /// Milliseconds on the monotonic high-resolution clock. Not Environment.TickCount64: on Linux it
    /// reads CLOCK_MONOTONIC_COARSE, a jiffy behind at times, which let a timer fire a few ms early.
    /// </summary>
    private static long NowMs() => System.Diagnostics.Stopwatch.GetTimestamp() / (System.Diagnostics.Stopwatch.Frequency / 1000);

    private int MillisecondsToNextTimer()
    {
        lock (_timersLock)
        {
            if (!_timers.TryPeek(out _, out long due)) return 1000;
            return (int)Math.Clamp(due - NowMs(), 0, 1000);
        }
    }

    private void RunDueTimers()
    {
        long now = NowMs();
        while (true)
        {
            Action? work;
            lock (_timersLock)
            {
                if (!_timers.TryPeek(out work, out long due) || due > now) return;
                _timers.Dequeue();
            }
            Guard(work);
        }
    }

    private void Guard(Action action)
    {
        try { action(); }
        catch (Exception e) { AbstractionsLog.ControlCallbackFailed(_log, e); }
    }

    private static FdEvents ToFdEvents(Libc.EpollEvents e) =>
        ((e & Libc.EpollEvents.In) != 0 ? FdEvents.Readable : 0)
        | ((e & (Libc.EpollEvents.Hup | Libc.EpollEvents.RdHup | Libc.EpollEvents.Err)) != 0 ? FdEvents.HangUp : 0);

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wakeup.Signal();
        if (!IsCurrent) _thread.Join(TimeSpan.FromSeconds(5));
        _epoll.Dispose();
        _wakeup.Dispose();
    }
}

[Flags]
public enum FdEvents
{
    None = 0,
    Readable = 1,
    HangUp = 2,
}
