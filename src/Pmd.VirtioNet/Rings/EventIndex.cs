using System.Runtime.CompilerServices;

namespace Pmd.VirtioNet.Rings;

internal static class EventIndex
{
    /// <summary>
    /// VIRTIO_F_EVENT_IDX: whether moving an index from <paramref name="old"/> to
    /// <paramref name="next"/> crossed the <paramref name="eventIndex"/> the other side asked for,
    /// all in 16-bit wrapping arithmetic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool NeedEvent(ushort eventIndex, ushort next, ushort old) =>
        (ushort)(next - eventIndex - 1) < (ushort)(next - old);
}
