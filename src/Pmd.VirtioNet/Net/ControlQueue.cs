using System.Diagnostics;
using Pmd.VirtioNet.Rings;
using Pmd.VirtioNet.Transport;

namespace Pmd.VirtioNet.Net;

/// <summary>
/// The control virtqueue of a device that serves one itself (virtio-pci): each command is a chain
/// of the class/command header and its data (device-readable) and one ack byte (device-writable),
/// executed synchronously on the control path with a timeout.
/// </summary>
internal sealed unsafe class ControlQueue
{
    private const int AckOffset = 1024;
    private readonly IVirtqueue _ring;
    private readonly VirtioTransport _transport;
    private readonly int _index;
    private readonly byte* _buffer;
    private readonly ulong _iova;
    private readonly Lock _lock = new();

    /// <summary><paramref name="buffer"/> is 4 KiB of device-visible memory at <paramref name="iova"/>.</summary>
    public ControlQueue(IVirtqueue ring, VirtioTransport transport, int index, byte* buffer, ulong iova)
    {
        _ring = ring;
        _transport = transport;
        _index = index;
        _buffer = buffer;
        _iova = iova;
        _ring.SuppressInterrupts();
    }

    public byte Execute(byte commandClass, byte command, ReadOnlySpan<byte> data, TimeSpan timeout)
    {
        if (data.Length > AckOffset - 2) throw new ArgumentException("control command data too long", nameof(data));
        lock (_lock)
        {
            _buffer[0] = commandClass;
            _buffer[1] = command;
            data.CopyTo(new Span<byte>(_buffer + 2, data.Length));
            _buffer[AckOffset] = 0xFF;
            Span<VirtqBuffer> chain = stackalloc VirtqBuffer[3];
            int n = 0;
            chain[n++] = new VirtqBuffer(_iova, 2);
            if (data.Length > 0) chain[n++] = new VirtqBuffer(_iova + 2, (uint)data.Length);
            chain[n++] = new VirtqBuffer(_iova + AckOffset, 1);
            if (!_ring.AddChain(chain[..n], n - 1, 1)) throw new InvalidOperationException("the control queue is full");
            _ring.Publish();
            _transport.Notify(_index);
            var clock = Stopwatch.StartNew();
            while (true)
            {
                var status = _ring.TryGetUsed(out _, out _);
                if (status == UsedStatus.Ok) return Volatile.Read(ref _buffer[AckOffset]);
                if (status == UsedStatus.Corrupt) throw new InvalidDataException("the device returned a corrupt control-queue entry");
                if (clock.Elapsed > timeout)
                    throw new TimeoutException($"the device did not answer control command class {commandClass} command {command} within {timeout.TotalSeconds:0.#} s");
                Thread.SpinWait(100);
            }
        }
    }
}
