using Pmd.Interop;

namespace Pmd.VirtioNet.Transport.VhostUser;

/// <summary>
/// The listening socket for server=1: Pmd owns the path and the backend (DPDK with client=1)
/// connects, again after each restart of its own.
/// </summary>
internal sealed unsafe class VhostUserListener : IDisposable
{
    private readonly SafeFdHandle _socket;

    public VhostUserListener(string path)
    {
        Path = path;
        _socket = SafeFdHandle.FromResult(Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), "socket");
        // A stale socket file from an earlier run would make bind fail with EADDRINUSE.
        if (File.Exists(path) && (File.GetAttributes(path) & FileAttributes.Directory) == 0) File.Delete(path);
        var addr = Libc.UnixAddress(path, out uint length);
        if (Libc.Bind(_socket.Fd, &addr, length) != 0 || Libc.Listen(_socket.Fd, 1) != 0)
        {
            int errno = Libc.LastErrno;
            _socket.Dispose();
            throw new VhostUserException($"cannot listen on vhost-user socket {path}: {Libc.Describe(errno)}");
        }
    }

    public string Path { get; }

    public int Fd => _socket.Fd;

    /// <summary>Waits for one backend connection and returns its fd.</summary>
    public int Accept(TimeSpan timeout)
    {
        var pfd = new Libc.PollFd { Fd = _socket.Fd, Events = Libc.POLLIN };
        int ready;
        do ready = Libc.Poll(&pfd, 1, (int)timeout.TotalMilliseconds);
        while (ready < 0 && Libc.LastErrno == Libc.EINTR);
        if (ready == 0) throw new VhostUserException($"no vhost-user backend connected to {Path} within {timeout.TotalSeconds:0.#} s");
        int fd = Libc.Accept4(_socket.Fd, null, null, Libc.SOCK_CLOEXEC);
        if (fd < 0) throw new VhostUserException($"accept on {Path} failed: {Libc.Describe(Libc.LastErrno)}");
        return fd;
    }

    public void Dispose()
    {
        _socket.Dispose();
        try { File.Delete(Path); } catch (IOException) { }
    }
}
