using Microsoft.Extensions.Logging;
using Pmd.Interop;
using Pmd.Threading;

namespace Pmd.Hotplug;

/// <summary>
/// Kernel uevents (devices added, removed, bound) on the control thread: a NETLINK_KOBJECT_UEVENT
/// socket in the kernel's multicast group, watched by the control thread's epoll loop. Only
/// messages from the kernel itself (sender port id 0) that parse as uevents are handed on; others
/// are counted. It observes; it never changes anything.
/// </summary>
public sealed unsafe class UeventMonitor : IDisposable
{
    private readonly SafeFdHandle _socket;
    private readonly ControlThread _control;
    private readonly Action<Uevent> _handler;
    private readonly ILogger _log;
    private readonly byte[] _buffer = new byte[Uevent.MaxLength + 1];

    /// <summary>
    /// Starts delivering uevents to <paramref name="handler"/> on <paramref name="control"/>'s thread;
    /// it logs through <paramref name="loggerFactory"/>, or <see cref="PmdLogging.Factory"/> if null.
    /// </summary>
    public UeventMonitor(ControlThread control, Action<Uevent> handler, ILoggerFactory? loggerFactory = null)
    {
        _log = (loggerFactory ?? PmdLogging.Factory).CreateLogger("Pmd.Hotplug");
        _control = control;
        _handler = handler;
        _socket = SafeFdHandle.FromResult(
            Libc.Socket(Libc.AF_NETLINK, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK, Libc.NETLINK_KOBJECT_UEVENT), "socket(NETLINK_KOBJECT_UEVENT)");
        var address = new Libc.SockAddrNl { Family = Libc.AF_NETLINK, Groups = Libc.UeventKernelGroup };
        if (Libc.BindNetlink(_socket.Fd, &address, (uint)sizeof(Libc.SockAddrNl)) != 0)
        {
            int errno = Libc.LastErrno;
            _socket.Dispose();
            throw new IOException($"cannot listen to kernel uevents (bind to NETLINK_KOBJECT_UEVENT group 1): {Libc.Describe(errno)}");
        }
        control.Watch(_socket.Fd, _ => ReadAll());
    }

    /// <summary>Messages that were not uevents from the kernel (another sender, truncated, malformed).</summary>
    public ulong Rejected { get; private set; }

    public ulong Delivered { get; private set; }

    private void ReadAll()
    {
        while (true)
        {
            var from = default(Libc.SockAddrNl);
            uint fromLength = (uint)sizeof(Libc.SockAddrNl);
            nint n;
            fixed (byte* p = _buffer) n = Libc.RecvFrom(_socket.Fd, p, (nuint)_buffer.Length, 0, &from, &fromLength);
            if (n < 0) return;   // EAGAIN: drained (ENOBUFS, a lost burst, is logged by nobody: the next message still comes)
            // A message as long as the buffer may have been cut; the kernel's own are far shorter.
            if (from.Pid != 0 || n > Uevent.MaxLength || !Uevent.TryParse(_buffer.AsSpan(0, (int)n), out var uevent))
            {
                Rejected++;
                continue;
            }
            Delivered++;
            try { _handler(uevent!); }
            catch (Exception e) { AbstractionsLog.UeventHandlerFailed(_log, e, uevent!.Action, uevent.DevPath); }   // a handler bug: with its trace
        }
    }

    public void Dispose()
    {
        _control.Unwatch(_socket.Fd);
        _socket.Dispose();
    }
}
