namespace Pmd.VirtioNet.Rings;

internal static class CompletedBuffers
{
    /// <summary>
    /// <see cref="IVirtqueue.TakeCompleted"/> by reading used entries one by one: for rings where
    /// no shortcut applies. Generic over the ring struct, so the calls are direct.
    /// </summary>
    public static int TakeEach<TRing>(ref TRing ring, Span<nint> cookies) where TRing : struct, IVirtqueue
    {
        int n = 0;
        while (n < cookies.Length)
        {
            var status = ring.TryGetUsed(out nint cookie, out _);
            if (status == UsedStatus.Empty) break;
            if (cookie != 0) cookies[n++] = cookie;
        }
        return n;
    }
}
