using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// A scripted vhost-user backend in this process, listening on a Unix socket, for the protocol
/// corner cases a real backend never produces: lies, drips, bad replies. It accepts connections
/// one after another, answers the GET_* requests, records the rest, and ignores the fds sent
/// with SET_MEM_TABLE and SET_VRING_KICK (the kernel closes fds nobody asks for).
/// </summary>
internal sealed class FakeVhostBackend : IDisposable
{
    private const int GetFeatures = 1, SetFeatures = 2, GetVringBase = 11, GetProtocolFeatures = 15;
    private readonly Socket _listener;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private volatile Socket? _current;
    private int _connections;

    public FakeVhostBackend(string path)
    {
        Path = path;
        if (File.Exists(path)) File.Delete(path);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(4);
        _thread = new Thread(Run) { IsBackground = true, Name = "fake-vhost" };
        _thread.Start();
    }

    public string Path { get; }

    /// <summary>What GET_FEATURES answers.</summary>
    public ulong Features { get; set; } = (1UL << 32) | (1UL << 30);

    /// <summary>Answer GET_VRING_BASE with a 4-byte payload instead of a vhost_vring_state.</summary>
    public bool BadVringBase { get; set; }

    /// <summary>Send the GET_FEATURES reply one byte at a time, this far apart.</summary>
    public TimeSpan? DripFeatures { get; set; }

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Every SET_FEATURES value received, in order.</summary>
    public ConcurrentQueue<ulong> FeaturesSet { get; } = new();

    /// <summary>Requests received, by number, over all connections.</summary>
    public ConcurrentDictionary<int, int> Requests { get; } = new();

    private void Run()
    {
        while (!_stopping)
        {
            Socket client;
            try { client = _listener.Accept(); }
            catch (SocketException) { return; }
            catch (ObjectDisposedException) { return; }
            Interlocked.Increment(ref _connections);
            _current = client;
            try { Serve(client); }
            catch (SocketException) { }
            catch (ObjectDisposedException) { }
            catch (EndOfStreamException) { }
            finally { client.Dispose(); _current = null; }
        }
    }

    private void Serve(Socket client)
    {
        var header = new byte[12];
        var payload = new byte[4096];
        while (!_stopping)
        {
            ReadExactly(client, header);
            int request = (int)BinaryPrimitives.ReadUInt32LittleEndian(header);
            int size = (int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
            if (size > payload.Length) throw new EndOfStreamException("oversized message");
            ReadExactly(client, payload.AsSpan(0, size));
            Requests.AddOrUpdate(request, 1, (_, n) => n + 1);
            switch (request)
            {
                case GetFeatures:
                    var reply = Reply(request, BitConverter.GetBytes(Features));
                    if (DripFeatures is { } gap)
                    {
                        foreach (byte b in reply)
                        {
                            client.Send([b]);
                            Thread.Sleep(gap);
                        }
                    }
                    else client.Send(reply);
                    break;
                case GetProtocolFeatures:
                    client.Send(Reply(request, BitConverter.GetBytes(0UL)));
                    break;
                case SetFeatures:
                    FeaturesSet.Enqueue(BinaryPrimitives.ReadUInt64LittleEndian(payload));
                    break;
                case GetVringBase:
                    // The state echoes the ring index with base 0; a bad one is cut short.
                    client.Send(Reply(request, BadVringBase ? payload.AsSpan(0, 4).ToArray() : payload.AsSpan(0, 8).ToArray()));
                    break;
            }
        }
    }

    private static byte[] Reply(int request, byte[] body)
    {
        var m = new byte[12 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)request);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(4), 0x1 | 0x4);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), (uint)body.Length);
        body.CopyTo(m, 12);
        return m;
    }

    private static void ReadExactly(Socket s, Span<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            int n = s.Receive(buffer);
            if (n == 0) throw new EndOfStreamException();
            buffer = buffer[n..];
        }
    }

    /// <summary>Closes the connection being served, as a backend that crashes does.</summary>
    public void DropCurrent()
    {
        try { _current?.Shutdown(SocketShutdown.Both); }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
    }

    /// <summary>Whether the front end has closed the connection being served (the backend sees EOF).</summary>
    public bool WaitForDisconnect(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (_current is not null && DateTime.UtcNow < deadline) Thread.Sleep(10);
        return _current is null;
    }

    public void Dispose()
    {
        _stopping = true;
        _listener.Dispose();
        _current?.Dispose();
        _thread.Join(2000);
        try { File.Delete(Path); } catch (IOException) { }
    }
}
