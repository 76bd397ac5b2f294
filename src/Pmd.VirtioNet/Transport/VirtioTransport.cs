using Pmd.Memory;
using Pmd.VirtioNet.Net;

namespace Pmd.VirtioNet.Transport;

/// <summary>Where one virtqueue's parts are, as the device addresses them.</summary>
internal readonly record struct QueueSetup(int Index, int Size, bool Packed, ulong Descriptors, ulong DriverArea, ulong DeviceArea);

/// <summary>Something a transport reports to its port, on the control thread.</summary>
internal enum TransportEvent
{
    /// <summary>
    /// The device or backend is gone; the link is down until the transport reconnects
    /// (<see cref="VirtioTransport.CanReconnect"/>) or the port is restarted.
    /// </summary>
    Disconnected,
    /// <summary>After <see cref="VirtioTransport.Reconnect"/>: a backend is there again, handshake done, features read.</summary>
    Reconnected,
    /// <summary>The device config changed (link status).</summary>
    ConfigChanged,
    /// <summary>The hypervisor asks for the device back (VFIO's device request).</summary>
    DeviceRequest,
}

/// <summary>
/// How a virtio device is reached, like DPDK's virtio_ops: vhost-user over a socket, or modern
/// virtio-pci through VFIO. The rings and <see cref="VirtioNetPort"/> are the same over both.
/// Everything except <see cref="Notify"/> is control path.
/// </summary>
internal abstract class VirtioTransport : IDisposable
{
    /// <summary>For logs and "show port info": the socket path or PCI address.</summary>
    public abstract string Description { get; }

    /// <summary>Whether the device is reachable now.</summary>
    public abstract bool IsConnected { get; }

    /// <summary>The IOVA mode descriptors must use with this transport.</summary>
    public virtual IovaMode IovaMode => IovaMode.VirtualAddress;

    /// <summary>
    /// Features the transport must acknowledge whenever the device offers them, whatever the
    /// net driver wants: ACCESS_PLATFORM for a device behind an IOMMU (virtio-pci with VFIO).
    /// </summary>
    public virtual ulong TransportFeatures => 0;

    /// <summary>Largest ring the device accepts.</summary>
    public abstract int MaxQueueSize { get; }

    /// <summary>
    /// Whether the transport answers control-queue commands itself (vhost-user, as DPDK's
    /// virtio-user does) instead of the device serving a control virtqueue (virtio-pci).
    /// </summary>
    public abstract bool EmulatesControlQueue { get; }

    /// <summary>Reaches the device (again): connect, reset, and read what it offers.</summary>
    public abstract void Connect();

    /// <summary>Features the device offers; valid after <see cref="Connect"/>.</summary>
    public abstract ulong DeviceFeatures { get; }

    /// <summary>Acknowledges the driver's feature choice (up to FEATURES_OK).</summary>
    public abstract void SetFeatures(ulong features);

    public abstract VirtioNetConfig ReadConfig();

    /// <summary>Tells the device where a ring is, before <see cref="DriverOk"/>.</summary>
    public abstract void SetupQueue(QueueSetup queue);

    /// <summary>Enables or disables a ring that was set up (vhost-user's SET_VRING_ENABLE).</summary>
    public abstract void EnableQueue(int index, bool enable);

    /// <summary>Sets DRIVER_OK: the device may use the rings.</summary>
    public abstract void DriverOk();

    /// <summary>Stops the device using the rings; afterwards the driver may take back every buffer.</summary>
    public abstract void StopQueues(int queueCount);

    /// <summary>Kicks the device for ring <paramref name="index"/>. Datapath: no allocation, no throw.</summary>
    public abstract void Notify(int index);

    /// <summary>Answers a control command when <see cref="EmulatesControlQueue"/>; returns the ack byte (0 = OK).</summary>
    public virtual byte ExecuteControl(byte commandClass, byte command, ReadOnlySpan<byte> data) => 1;

    /// <summary>Tells the device the MTU, where the transport can (vhost-user NET_SET_MTU).</summary>
    public virtual void SetMtu(int mtu) { }

    /// <summary>Whether <see cref="Reconnect"/> can bring a lost device back without the app (vhost-user).</summary>
    public virtual bool CanReconnect => false;

    /// <summary>
    /// Drops what is left of a lost connection and gets a new one in the background, on the
    /// control thread; <see cref="TransportEvent.Reconnected"/> tells when. Call after the
    /// rings were taken back (the device no longer uses them). A later <see cref="Connect"/> or
    /// <see cref="Dispose"/> cancels it.
    /// </summary>
    public virtual void Reconnect() { }

    /// <summary>Raised on the control thread.</summary>
    public event Action<TransportEvent>? EventRaised;

    protected void Raise(TransportEvent e) => EventRaised?.Invoke(e);

    /// <summary>Lets the transport watch its fds (sockets, interrupts) on the port registry's control thread.</summary>
    public abstract void AttachControl(Threading.ControlThread control);

    public abstract void Dispose();
}
