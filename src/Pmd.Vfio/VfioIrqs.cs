using Pmd.Devargs;
using Pmd.Interop;

namespace Pmd.Vfio;

/// <summary>
/// The interrupt side of a VFIO device: which eventfd the kernel signals for each vector of an
/// interrupt index (VFIO_DEVICE_SET_IRQS). Remembers what it enabled so that teardown disables
/// exactly that: disabling an index that is not enabled fails when another index is active.
/// </summary>
internal sealed unsafe class VfioIrqs(SafeFdHandle device, PciAddress address)
{
    private readonly HashSet<int> _enabled = [];

    /// <summary>How many vectors the index has; 0 when the device lacks it.</summary>
    public uint Count(int index)
    {
        var info = new VfioInterop.IrqInfo { ArgSize = (uint)sizeof(VfioInterop.IrqInfo), Index = (uint)index };
        return Libc.Ioctl(device.Fd, VfioInterop.VFIO_DEVICE_GET_IRQ_INFO, &info) == 0 ? info.Count : 0;
    }

    /// <summary>Signals <paramref name="eventFds"/>[i] for vector i of <paramref name="index"/>, starting at 0.</summary>
    public void SetEventFds(int index, ReadOnlySpan<int> eventFds, string what)
    {
        int headerSize = sizeof(VfioInterop.IrqSet);
        int size = headerSize + eventFds.Length * sizeof(int);
        byte* buffer = stackalloc byte[size];
        *(VfioInterop.IrqSet*)buffer = new VfioInterop.IrqSet
        {
            ArgSize = (uint)size,
            Flags = VfioInterop.IrqSetFlags.DataEventFd | VfioInterop.IrqSetFlags.ActionTrigger,
            Index = (uint)index,
            Start = 0,
            Count = (uint)eventFds.Length,
        };
        eventFds.CopyTo(new Span<int>(buffer + headerSize, eventFds.Length));
        if (Libc.Ioctl(device.Fd, VfioInterop.VFIO_DEVICE_SET_IRQS, buffer) < 0)
            throw VfioErrors.IoctlFailed("VFIO_DEVICE_SET_IRQS", $"{what} of {address} ({eventFds.Length} eventfds)", Libc.LastErrno);
        _enabled.Add(index);
    }

    /// <summary>Re-arms an automasked interrupt (INTx masks itself each time it fires).</summary>
    public void Unmask(int index) => SetWithoutData(index, VfioInterop.IrqSetFlags.ActionUnmask, count: 1, "unmask");

    public bool IsEnabled(int index) => _enabled.Contains(index);

    /// <summary>DATA_NONE | ACTION_TRIGGER with count 0: the kernel's way to turn a whole index off.</summary>
    public void Disable(int index)
    {
        if (!_enabled.Remove(index)) return;
        SetWithoutData(index, VfioInterop.IrqSetFlags.ActionTrigger, count: 0, "disable");
    }

    /// <summary>VFIO_DEVICE_SET_IRQS with DATA_NONE: an action on vectors 0..count-1 of an index.</summary>
    private void SetWithoutData(int index, VfioInterop.IrqSetFlags action, uint count, string what)
    {
        var set = new VfioInterop.IrqSet
        {
            ArgSize = (uint)sizeof(VfioInterop.IrqSet),
            Flags = VfioInterop.IrqSetFlags.DataNone | action,
            Index = (uint)index,
            Start = 0,
            Count = count,
        };
        if (Libc.Ioctl(device.Fd, VfioInterop.VFIO_DEVICE_SET_IRQS, &set) < 0)
            throw VfioErrors.IoctlFailed($"VFIO_DEVICE_SET_IRQS ({what})", $"interrupt index {index} of {address}", Libc.LastErrno);
    }
}
