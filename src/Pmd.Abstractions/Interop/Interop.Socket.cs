using System.Runtime.InteropServices;
using Pmd.Memory;

namespace Pmd.Interop;

internal static partial class Libc
{
    internal const int AF_UNIX = 1;
    internal const int SOCK_STREAM = 1;
    internal const int SOCK_NONBLOCK = 0x800;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOL_SOCKET = 1;
    internal const int SCM_RIGHTS = 1;
    internal const int MSG_NOSIGNAL = 0x4000;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;
    internal const int MSG_CTRUNC = 0x8;
    internal const int SHUT_RDWR = 2;

    /// <summary>struct sockaddr_un: the family, then a NUL-terminated path of at most 107 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct SockAddrUn
    {
        public const int PathCapacity = 108;
        public ushort Family;
        public fixed byte Path[PathCapacity];
    }

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr; the payload (CMSG_DATA) follows at <see cref="DataOffset"/>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct CMsgHdr
    {
        public const int DataOffset = 16;
        public nuint Length;
        public int Level;
        public int Type;

        /// <summary>CMSG_SPACE: header plus payload, rounded up to 8 bytes.</summary>
        public static int Space(int dataLength) => DataOffset + Alignment.AlignUp(dataLength, 8);

        /// <summary>CMSG_LEN: header plus payload, unpadded.</summary>
        public static int Len(int dataLength) => DataOffset + dataLength;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    internal const short POLLIN = 0x1;
    internal const short POLLERR = 0x8;
    internal const short POLLHUP = 0x10;

    [LibraryImport(Name, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Name, EntryPoint = "connect", SetLastError = true)]
    internal static unsafe partial int Connect(int fd, SockAddrUn* addr, uint addrLen);

    [LibraryImport(Name, EntryPoint = "bind", SetLastError = true)]
    internal static unsafe partial int Bind(int fd, SockAddrUn* addr, uint addrLen);

    [LibraryImport(Name, EntryPoint = "listen", SetLastError = true)]
    internal static partial int Listen(int fd, int backlog);

    [LibraryImport(Name, EntryPoint = "accept4", SetLastError = true)]
    internal static unsafe partial int Accept4(int fd, void* addr, void* addrLen, int flags);

    [LibraryImport(Name, EntryPoint = "sendmsg", SetLastError = true)]
    internal static unsafe partial nint SendMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Name, EntryPoint = "recvmsg", SetLastError = true)]
    internal static unsafe partial nint RecvMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Name, EntryPoint = "shutdown", SetLastError = true)]
    internal static partial int Shutdown(int fd, int how);

    [LibraryImport(Name, EntryPoint = "poll", SetLastError = true)]
    internal static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    /// <summary>Fills a sockaddr_un; the path must fit with its terminating NUL.</summary>
    internal static unsafe SockAddrUn UnixAddress(string path, out uint length)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path);
        if (bytes.Length == 0 || bytes.Length >= SockAddrUn.PathCapacity)
            throw new ArgumentException($"socket path '{path}' must be 1 to {SockAddrUn.PathCapacity - 1} bytes long");
        var addr = new SockAddrUn { Family = AF_UNIX };
        for (int i = 0; i < bytes.Length; i++) addr.Path[i] = bytes[i];
        addr.Path[bytes.Length] = 0;
        length = (uint)(sizeof(ushort) + bytes.Length + 1);
        return addr;
    }
}
