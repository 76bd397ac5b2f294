namespace Pmd.Ethdev;

/// <summary>What happened to a port, like rte_eth_event_type.</summary>
public enum PortEventType
{
    /// <summary>The link went up or down (RTE_ETH_EVENT_INTR_LSC).</summary>
    LinkStateChange,
    /// <summary>The device is gone, or its backend is (RTE_ETH_EVENT_INTR_RMV).</summary>
    Removal,
    /// <summary>The hypervisor asks for the device back: release it soon (VFIO's device request).</summary>
    DeviceRequest,
    /// <summary>A port was attached (RTE_ETH_EVENT_NEW).</summary>
    New,
    /// <summary>A port was detached (RTE_ETH_EVENT_DESTROY).</summary>
    Destroy,
    /// <summary>A failover port switched between its primary and standby.</summary>
    Failover,
    /// <summary>
    /// The hypervisor asks the guest to announce the port's MAC to the network, as after a live
    /// migration (virtio's VIRTIO_NET_S_ANNOUNCE, with VIRTIO_NET_F_GUEST_ANNOUNCE).
    /// </summary>
    AnnounceRequest,
}

/// <summary>One event, as delivered to callbacks on the control thread.</summary>
public readonly record struct PortEvent(ushort PortId, PortEventType Type, string? Detail = null)
{
    public override string ToString() => Detail is null ? $"port {PortId}: {Type}" : $"port {PortId}: {Type} ({Detail})";
}
