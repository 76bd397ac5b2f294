using Pmd.VirtioNet.Rings;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// The first input byte of a ring target: ring size (a power of two up to 128, as Pmd's queue
/// sizes are), the negotiated features, and whether the ring is driven as a TX ring
/// (TakeCompleted) or an RX/control ring (TryGetUsed). A real queue is one or the other, never both.
/// </summary>
internal readonly record struct RingConfig(int Size, RingFeatures Features, bool TxStyle)
{
    public static RingConfig From(byte b) =>
        new(1 << (b & 7), new RingFeatures(EventIndex: (b & 8) != 0, InOrder: (b & 16) != 0, IndirectDescriptors: (b & 32) != 0), TxStyle: (b & 64) != 0);
}
