using System.Runtime.InteropServices;
using Pmd.Interop;

namespace Pmd.VirtioNet.Transport.VhostUser;

/// <summary>
/// The front-end end of one vhost-user connection: framed messages over a Unix stream socket,
/// with file descriptors passed in SCM_RIGHTS. Requests are made on the control path only, one at
/// a time. Replies are awaited with a timeout, so a stuck backend is an error, not a hang.
/// </summary>
internal sealed unsafe class VhostUserChannel : IDisposable
{
    private const int MaxFds = VhostMemory.MaxRegions;
    private const int MaxPayload = 512;
    private readonly SafeFdHandle _socket;
    private readonly string _path;
    private readonly TimeSpan _timeout;

    private VhostUserChannel(SafeFdHandle socket, string path, TimeSpan timeout)
    {
        _socket = socket;
        _path = path;
        _timeout = timeout;
    }

    public int Fd => _socket.Fd;

    /// <summary>Connects to a backend listening at <paramref name="path"/> (DPDK's default vhost server role).</summary>
    public static VhostUserChannel Connect(string path, TimeSpan timeout)
    {
        var socket = SafeFdHandle.FromResult(Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), "socket");
        var addr = Libc.UnixAddress(path, out uint length);
        if (Libc.Connect(socket.Fd, &addr, length) != 0)
        {
            int errno = Libc.LastErrno;
            socket.Dispose();
            throw new VhostUserException($"cannot connect to vhost-user socket {path}: {Libc.Describe(errno)}; is the backend running?");
        }
        return new VhostUserChannel(socket, path, timeout);
    }

    /// <summary>
    /// Waits up to <paramref name="wait"/> on <paramref name="listener"/> for a backend to connect
    /// (server=1); zero when the listener is known to be readable.
    /// </summary>
    public static VhostUserChannel Accept(VhostUserListener listener, TimeSpan wait, TimeSpan replyTimeout)
    {
        int fd = listener.Accept(wait);
        return new VhostUserChannel(new SafeFdHandle(fd), listener.Path, replyTimeout);
    }

    /// <summary>Sends a request with no reply.</summary>
    public void Send<T>(VhostUserRequest request, in T payload, ReadOnlySpan<int> fds = default, bool needReply = false) where T : unmanaged
    {
        fixed (T* p = &payload) Send(request, new ReadOnlySpan<byte>(p, sizeof(T)), fds, needReply);
    }

    public void Send(VhostUserRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default, bool needReply = false)
    {
        if (payload.Length > MaxPayload || fds.Length > MaxFds) throw new ArgumentException("vhost-user message too large");
        byte* buffer = stackalloc byte[VhostUserHeader.Size + MaxPayload];
        var header = (VhostUserHeader*)buffer;
        header->Request = request;
        header->Flags = VhostUserHeader.Version | (needReply ? VhostUserHeader.NeedReply : 0);
        header->PayloadSize = (uint)payload.Length;
        payload.CopyTo(new Span<byte>(buffer + VhostUserHeader.Size, payload.Length));

        var iov = new Libc.IoVec { Base = buffer, Length = (nuint)(VhostUserHeader.Size + payload.Length) };
        byte* control = stackalloc byte[Libc.CMsgHdr.Space(MaxFds * sizeof(int))];
        var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1 };
        if (fds.Length > 0)
        {
            int dataLength = fds.Length * sizeof(int);
            var cmsg = (Libc.CMsgHdr*)control;
            cmsg->Length = (nuint)Libc.CMsgHdr.Len(dataLength);
            cmsg->Level = Libc.SOL_SOCKET;
            cmsg->Type = Libc.SCM_RIGHTS;
            fds.CopyTo(new Span<int>(control + Libc.CMsgHdr.DataOffset, fds.Length));
            msg.Control = control;
            msg.ControlLength = (nuint)Libc.CMsgHdr.Space(dataLength);
        }
        nint sent;
        do sent = Libc.SendMsg(_socket.Fd, &msg, Libc.MSG_NOSIGNAL);
        while (sent < 0 && Libc.LastErrno == Libc.EINTR);
        if (sent < 0) throw Gone(request, Libc.Describe(Libc.LastErrno));
        if (sent != (nint)iov.Length) throw Gone(request, $"short write ({sent} of {iov.Length} bytes)");
    }

    /// <summary>Reads the reply to <paramref name="request"/>, whose payload must be a <typeparamref name="T"/>.</summary>
    public T Receive<T>(VhostUserRequest request) where T : unmanaged
    {
        // One deadline for the whole reply: a backend that drips bytes must not restart the clock.
        long deadline = Environment.TickCount64 + (long)_timeout.TotalMilliseconds;
        VhostUserHeader header;
        ReadExactly(request, (byte*)&header, VhostUserHeader.Size, deadline);
        if (header.Request != request || (header.Flags & VhostUserHeader.ReplyFlag) == 0)
            throw Protocol(request, $"reply is for request {(uint)header.Request} with flags 0x{header.Flags:x}");
        if (header.PayloadSize != (uint)sizeof(T))
            throw Protocol(request, $"reply payload is {header.PayloadSize} bytes, expected {sizeof(T)}");
        T value;
        ReadExactly(request, (byte*)&value, sizeof(T), deadline);
        return value;
    }

    /// <summary>Sends a u64 request and returns the backend's u64 answer (the GET_* requests).</summary>
    public ulong Query(VhostUserRequest request)
    {
        Send(request, ReadOnlySpan<byte>.Empty);
        return Receive<ulong>(request);
    }

    /// <summary>For a request sent with NEED_REPLY (REPLY_ACK negotiated): a non-zero status is an error.</summary>
    public void ExpectAck(VhostUserRequest request)
    {
        ulong status = Receive<ulong>(request);
        if (status != 0) throw Protocol(request, $"backend refused it (status {status})");
    }

    private void ReadExactly(VhostUserRequest request, byte* buffer, int length, long deadline)
    {
        int done = 0;
        while (done < length)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0) throw Gone(request, $"no complete reply within {_timeout.TotalSeconds:0.#} s ({done} of {length} bytes)");
            var pfd = new Libc.PollFd { Fd = _socket.Fd, Events = Libc.POLLIN };
            int ready = Libc.Poll(&pfd, 1, (int)Math.Min(left, int.MaxValue));
            if (ready < 0 && Libc.LastErrno == Libc.EINTR) continue;
            if (ready == 0) throw Gone(request, $"no complete reply within {_timeout.TotalSeconds:0.#} s ({done} of {length} bytes)");
            var iov = new Libc.IoVec { Base = buffer + done, Length = (nuint)(length - done) };
            var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1 };
            nint n = Libc.RecvMsg(_socket.Fd, &msg, Libc.MSG_CMSG_CLOEXEC);
            if (n < 0 && Libc.LastErrno == Libc.EINTR) continue;
            if (n < 0) throw Gone(request, Libc.Describe(Libc.LastErrno));
            if (n == 0) throw Gone(request, "the backend closed the connection");
            done += (int)n;
        }
    }

    /// <summary>Whether the peer has closed the socket (a zero-byte peek), without consuming anything.</summary>
    public bool PeerClosed()
    {
        byte b;
        var iov = new Libc.IoVec { Base = &b, Length = 1 };
        var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1 };
        const int MsgPeekDontWait = 0x2 | 0x40;
        nint n = Libc.RecvMsg(_socket.Fd, &msg, MsgPeekDontWait);
        return n == 0 || (n < 0 && Libc.LastErrno != Libc.EAGAIN);
    }

    private VhostUserException Gone(VhostUserRequest request, string why) =>
        new($"vhost-user {request} to {_path} failed: {why}", disconnected: true);

    private VhostUserException Protocol(VhostUserRequest request, string why) =>
        new($"vhost-user {request} to {_path}: {why}", disconnected: false);

    public void Dispose() => _socket.Dispose();
}

/// <summary>A vhost-user conversation that failed; <see cref="Disconnected"/> when the backend is gone.</summary>
public sealed class VhostUserException(string message, bool disconnected = true) : PmdIOException(message)
{
    public bool Disconnected { get; } = disconnected;
}
