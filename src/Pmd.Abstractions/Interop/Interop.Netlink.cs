using System.Runtime.InteropServices;

namespace Pmd.Interop;

internal static partial class Libc
{
    internal const int AF_NETLINK = 16;
    internal const int SOCK_DGRAM = 2;
    internal const int NETLINK_KOBJECT_UEVENT = 15;

    /// <summary>The kernel's own uevent multicast group (udev re-broadcasts on group 2, in its own format).</summary>
    internal const uint UeventKernelGroup = 1;

    /// <summary>struct sockaddr_nl.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SockAddrNl
    {
        public ushort Family;
        public ushort Pad;
        public uint Pid;
        public uint Groups;
    }

    [LibraryImport(Name, EntryPoint = "bind", SetLastError = true)]
    internal static unsafe partial int BindNetlink(int fd, SockAddrNl* addr, uint addrLen);

    [LibraryImport(Name, EntryPoint = "recvfrom", SetLastError = true)]
    internal static unsafe partial nint RecvFrom(int fd, void* buffer, nuint length, int flags, SockAddrNl* from, uint* fromLength);
}
