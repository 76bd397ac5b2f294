namespace Pmd.VirtioNet.Net;

/// <summary>Feature bits of virtio-net devices (VIRTIO 1.x 5.1.3) and of the transport (6).</summary>
public static class VirtioFeatures
{
    public const int Csum = 0;
    public const int GuestCsum = 1;
    public const int Mtu = 3;
    public const int GuestTso4 = 7;
    public const int GuestTso6 = 8;
    public const int HostTso4 = 11;
    public const int HostTso6 = 12;
    public const int Mac = 5;
    public const int MrgRxBuf = 15;
    public const int Status = 16;
    public const int CtrlVq = 17;
    public const int CtrlRx = 18;
    public const int CtrlVlan = 19;
    public const int GuestAnnounce = 21;
    public const int Mq = 22;
    public const int CtrlMacAddr = 23;
    public const int AnyLayout = 27;
    public const int IndirectDesc = 28;
    public const int EventIdx = 29;
    /// <summary>vhost-user only: the backend speaks protocol features.</summary>
    public const int ProtocolFeatures = 30;
    public const int Version1 = 32;
    public const int AccessPlatform = 33;
    public const int RingPacked = 34;
    public const int InOrder = 35;
    /// <summary>VIRTIO_NET_F_STANDBY: this device is the standby of a failover pair.</summary>
    public const int Standby = 62;

    public static ulong Bit(int feature) => 1UL << feature;

    public static bool Has(ulong features, int feature) => (features & Bit(feature)) != 0;

    private static readonly (int Bit, string Name)[] s_names =
    [
        (Csum, "CSUM"), (GuestCsum, "GUEST_CSUM"), (Mtu, "MTU"), (GuestTso4, "GUEST_TSO4"), (GuestTso6, "GUEST_TSO6"), (HostTso4, "HOST_TSO4"), (HostTso6, "HOST_TSO6"),
        (Mac, "MAC"), (MrgRxBuf, "MRG_RXBUF"), (Status, "STATUS"),
        (CtrlVq, "CTRL_VQ"), (CtrlRx, "CTRL_RX"), (CtrlVlan, "CTRL_VLAN"), (GuestAnnounce, "GUEST_ANNOUNCE"), (Mq, "MQ"),
        (CtrlMacAddr, "CTRL_MAC_ADDR"), (AnyLayout, "ANY_LAYOUT"), (IndirectDesc, "INDIRECT_DESC"), (EventIdx, "EVENT_IDX"),
        (ProtocolFeatures, "PROTOCOL_FEATURES"), (Version1, "VERSION_1"), (AccessPlatform, "ACCESS_PLATFORM"),
        (RingPacked, "RING_PACKED"), (InOrder, "IN_ORDER"), (Standby, "STANDBY"),
    ];

    /// <summary>"VERSION_1 MAC MRG_RXBUF ..." for logs and "show port info".</summary>
    public static string Describe(ulong features)
    {
        var names = s_names.Where(n => Has(features, n.Bit)).Select(n => n.Name).ToList();
        ulong known = s_names.Aggregate(0UL, (acc, n) => acc | Bit(n.Bit));
        if ((features & ~known) != 0) names.Add($"0x{features & ~known:x}");
        return string.Join(' ', names);
    }
}
