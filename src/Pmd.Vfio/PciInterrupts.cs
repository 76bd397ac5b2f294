using Pmd.Threading;

namespace Pmd.Vfio;

/// <summary>
/// A PCI device's interrupts delivered to handlers on the control thread: each MSI-X vector
/// signals an eventfd that the control thread's epoll loop watches, and so does VFIO's request
/// interrupt (the hypervisor asking for the device back before an unplug). Datapath queues stay
/// polled; only slow-path causes (link changes, config changes, requests) get vectors. Disposing
/// stops the watches and the interrupts, then closes the eventfds.
/// </summary>
public sealed class PciInterrupts : IDisposable
{
    private readonly VfioPciDevice _device;
    private readonly ControlThread _control;
    private readonly List<EventFd> _vectors = [];
    private EventFd? _request;
    private bool _disposed;

    public PciInterrupts(VfioPciDevice device, ControlThread control)
    {
        _device = device;
        _control = control;
    }

    /// <summary>MSI-X vectors wired so far (vector i runs the i-th handler given to <see cref="WireMsix"/>).</summary>
    public int MsixVectors => _vectors.Count;

    public bool HasRequestInterrupt => _request is not null;

    /// <summary>
    /// Enables MSI-X vectors 0..n-1, vector i running <paramref name="handlers"/>[i] on the control
    /// thread each time it fires. Returns false, enabling nothing, when the device has fewer vectors.
    /// Wiring again replaces the earlier vectors (vfio-pci cannot grow an enabled MSI-X block).
    /// </summary>
    public bool WireMsix(params ReadOnlySpan<Action> handlers)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (handlers.IsEmpty || _device.MsixVectorCount < handlers.Length) return false;
        UnwireMsix();
        Span<int> fds = stackalloc int[handlers.Length];
        foreach (var handler in handlers)
        {
            var fd = new EventFd();
            _vectors.Add(fd);
            fds[_vectors.Count - 1] = fd.Fd;
        }
        try
        {
            _device.EnableMsix(fds);
        }
        catch
        {
            foreach (var fd in _vectors) fd.Dispose();
            _vectors.Clear();
            throw;
        }
        for (int i = 0; i < handlers.Length; i++) Watch(_vectors[i], handlers[i]);
        return true;
    }

    /// <summary>
    /// Runs <paramref name="handler"/> on the control thread when the hypervisor asks for the device
    /// back. Returns false when the device (or the kernel) has no request interrupt.
    /// </summary>
    public bool WireDeviceRequest(Action handler)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_device.SupportsRequestIrq) return false;
        if (_request is not null) throw new InvalidOperationException($"{_device.Address}: the request interrupt is already wired");
        var fd = new EventFd();
        try
        {
            _device.EnableRequestIrq(fd.Fd);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
        _request = fd;
        Watch(fd, handler);
        return true;
    }

    private void Watch(EventFd fd, Action handler) =>
        _control.Watch(fd.Fd, _ =>
        {
            // Edge of a counter: read it to zero first, so a cause that fires again while the handler runs is not lost.
            if (fd.Drain() != 0) handler();
        });

    private void UnwireMsix()
    {
        if (_vectors.Count == 0) return;
        foreach (var fd in _vectors) _control.Unwatch(fd.Fd);
        _device.DisableMsix();
        foreach (var fd in _vectors) fd.Dispose();
        _vectors.Clear();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var fd in _vectors) _control.Unwatch(fd.Fd);
        if (_request is not null) _control.Unwatch(_request.Fd);
        // The device may already be closed (a port closes it to finish an unplug); its Dispose turned the interrupts off then.
        if (!_device.IsDisposed) _device.DisableIrqs();
        foreach (var fd in _vectors) fd.Dispose();
        _vectors.Clear();
        _request?.Dispose();
        _request = null;
    }
}
