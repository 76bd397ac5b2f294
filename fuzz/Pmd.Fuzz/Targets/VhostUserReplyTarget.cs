using Pmd.Interop;
using Pmd.VirtioNet.Transport.VhostUser;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// vhost-user-reply: the front end's reply reader (VhostUserChannel.Receive, ExpectAck, Query)
/// over a real Unix socket whose other end sends the input, as a hostile or broken backend would.
/// Input: a flags byte (bit 0: keep the backend's end open, so a short reply runs into the
/// timeout), four bytes choosing the reads, then the bytes the backend sends. The only error
/// allowed out is VhostUserException; a hang would show as an AFL timeout.
/// </summary>
internal sealed unsafe class VhostUserReplyTarget : FuzzTarget, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(2);
    private VhostUserListener? _listener;

    public override string Name => "vhost-user-reply";

    public override void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        bool keepOpen = input.Bool();
        Span<byte> ops = stackalloc byte[4];
        for (int i = 0; i < ops.Length; i++) ops[i] = input.U8();
        var stream = input.Rest();

        // In TMPDIR: run.sh points it into the fuzz output, as afl-fuzz's SIGKILL leaves the file behind.
        _listener ??= new VhostUserListener(Path.Combine(Path.GetTempPath(), $"pmd-fuzz-vhost-{Environment.ProcessId}.sock"));
        using var backend = ConnectBackend(_listener.Path);
        using var channel = VhostUserChannel.Accept(_listener, Timeout, Timeout);
        fixed (byte* p = stream)
        {
            // At most 64 KiB: it fits the socket's buffer, so this write neither blocks nor comes up short.
            nint sent = stream.IsEmpty ? 0 : Libc.Write(backend.Fd, p, (nuint)stream.Length);
            if (sent != stream.Length) throw new InvalidOperationException($"harness: wrote {sent} of {stream.Length} bytes to the backend's end");
        }
        if (!keepOpen) Libc.Shutdown(backend.Fd, Libc.SHUT_RDWR);
        try
        {
            foreach (byte op in ops) Read(channel, op);
        }
        catch (VhostUserException)
        {
            // The documented failure: the transport drops the connection on it.
        }
    }

    private static void Read(VhostUserChannel channel, byte op)
    {
        switch (op % 5)
        {
            case 0: channel.Receive<ulong>(VhostUserRequest.GetFeatures); break;
            case 1: channel.Receive<VhostVringState>(VhostUserRequest.GetVringBase); break;
            case 2: channel.ExpectAck(VhostUserRequest.SetStatus); break;
            case 3: channel.Query(VhostUserRequest.GetProtocolFeatures); break;
            default: channel.PeerClosed(); break;
        }
    }

    /// <summary>Removes the listening socket's file.</summary>
    public void Dispose() => _listener?.Dispose();

    private static SafeFdHandle ConnectBackend(string path)
    {
        var socket = SafeFdHandle.FromResult(Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), "socket");
        var addr = Libc.UnixAddress(path, out uint length);
        if (Libc.Connect(socket.Fd, &addr, length) != 0)
        {
            socket.Dispose();
            throw new InvalidOperationException($"harness: cannot connect to its own listener {path}");
        }
        return socket;
    }
}
