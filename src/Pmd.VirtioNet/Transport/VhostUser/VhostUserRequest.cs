namespace Pmd.VirtioNet.Transport.VhostUser;

/// <summary>Front-end requests of the vhost-user protocol (QEMU's docs/interop/vhost-user.rst).</summary>
internal enum VhostUserRequest : uint
{
    GetFeatures = 1,
    SetFeatures = 2,
    SetOwner = 3,
    ResetOwner = 4,
    SetMemTable = 5,
    SetVringNum = 8,
    SetVringAddr = 9,
    SetVringBase = 10,
    GetVringBase = 11,
    SetVringKick = 12,
    SetVringCall = 13,
    GetProtocolFeatures = 15,
    SetProtocolFeatures = 16,
    GetQueueNum = 17,
    SetVringEnable = 18,
    NetSetMtu = 20,
    SetStatus = 39,
    GetStatus = 40,
}

/// <summary>Protocol feature bits negotiated with GET/SET_PROTOCOL_FEATURES.</summary>
internal static class VhostUserProtocolFeatures
{
    public const int Mq = 0;
    public const int ReplyAck = 3;
    public const int NetMtu = 4;
    public const int Config = 9;
    public const int Status = 16;

    /// <summary>What Pmd uses when the backend offers it.</summary>
    public const ulong Wanted = (1UL << Mq) | (1UL << ReplyAck) | (1UL << NetMtu) | (1UL << Status);
}
