namespace Pmd.VirtioNet.Rings;

internal static class CompletedBuffers
{
    /// <summary>The length given for an entry that was rejected: its buffer, if it named one, is back but holds nothing to trust.</summary>
    public const uint Rejected = uint.MaxValue;

    /// <summary>
    /// <see cref="IVirtqueue.TakeCompleted"/> by reading used entries one by one: for rings where
    /// no shortcut applies. Generic over the ring struct, so the calls are direct. At most
    /// <paramref name="cookies"/>.Length entries are read, rejected ones included, so a device
    /// that keeps writing bad entries cannot keep the call from returning.
    /// </summary>
    public static int TakeEach<TRing>(ref TRing ring, Span<nint> cookies) where TRing : struct, IVirtqueue
    {
        int n = 0;
        for (int read = 0; read < cookies.Length; read++)
        {
            var status = ring.TryGetUsed(out nint cookie, out _);
            if (status == UsedStatus.Empty) break;
            if (cookie != 0) cookies[n++] = cookie;
        }
        return n;
    }

    /// <summary><see cref="IReceiveRing.TakeUsed"/> by reading used entries one by one with <see cref="IVirtqueue.TryGetUsed"/>.</summary>
    public static int TakeEach<TRing>(ref TRing ring, Span<nint> cookies, Span<uint> lengths) where TRing : struct, IVirtqueue
    {
        int n = 0;
        while (n < cookies.Length)
        {
            var status = ring.TryGetUsed(out nint cookie, out uint length);
            if (status == UsedStatus.Empty) break;
            cookies[n] = cookie;
            lengths[n] = status == UsedStatus.Ok ? length : Rejected;
            n++;
        }
        return n;
    }
}
