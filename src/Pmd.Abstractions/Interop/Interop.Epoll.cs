using System.Runtime.InteropServices;

namespace Pmd.Interop;

internal static partial class Libc
{
    [Flags]
    internal enum EpollEvents : uint
    {
        In = 0x001,
        Out = 0x004,
        Err = 0x008,
        Hup = 0x010,
        RdHup = 0x2000,
    }

    internal const int EPOLL_CTL_ADD = 1;
    internal const int EPOLL_CTL_DEL = 2;
    internal const int EPOLL_CTL_MOD = 3;
    internal const int EPOLL_CLOEXEC = 0x80000;

    /// <summary>struct epoll_event: packed on x86-64, so 12 bytes with the data at offset 4.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal struct EpollEvent
    {
        public EpollEvents Events;
        public ulong Data;
    }

    [LibraryImport(Name, EntryPoint = "epoll_create1", SetLastError = true)]
    internal static partial int EpollCreate1(int flags);

    [LibraryImport(Name, EntryPoint = "epoll_ctl", SetLastError = true)]
    internal static unsafe partial int EpollCtl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(Name, EntryPoint = "epoll_wait", SetLastError = true)]
    internal static unsafe partial int EpollWait(int epfd, EpollEvent* events, int maxEvents, int timeoutMs);
}
