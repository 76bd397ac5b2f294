namespace Pmd.VirtioNet.Net;

/// <summary>Control virtqueue command classes and commands (VIRTIO 5.1.6.5).</summary>
internal static class ControlCommands
{
    public const byte ClassRx = 0;
    public const byte RxPromisc = 0;
    public const byte RxAllMulti = 1;
    public const byte ClassMac = 1;
    public const byte MacAddrSet = 1;
    public const byte ClassAnnounce = 3;
    public const byte AnnounceAck = 0;
    public const byte ClassMq = 4;
    public const byte MqVqPairsSet = 0;
    public const byte AckOk = 0;
}
