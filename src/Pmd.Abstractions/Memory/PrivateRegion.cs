using Pmd.Interop;

namespace Pmd.Memory;

/// <summary>
/// Memory only this process can reach: an anonymous private mapping, never registered with
/// <see cref="DmaRegistry"/>, so it is neither in a vhost-user backend's memory table nor mapped
/// for device DMA. Mbuf headers live here: the chain pointers, pool ids and refcounts that the
/// driver trusts must be out of reach of a device that lies (DPDK keeps them beside the data).
/// 2 MiB pages are tried first, for the TLB's sake; 4 KiB pages otherwise.
/// </summary>
internal sealed unsafe class PrivateRegion : IDisposable
{
    private readonly SafeMappingHandle _mapping;

    private PrivateRegion(SafeMappingHandle mapping) => _mapping = mapping;

    public byte* Pointer => (byte*)_mapping.Address;

    public nuint Length => _mapping.Length;

    /// <summary>Maps at least <paramref name="length"/> zeroed bytes.</summary>
    public static PrivateRegion Allocate(nuint length, bool allowHuge = true)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        const Libc.Prot ReadWrite = Libc.Prot.Read | Libc.Prot.Write;
        const Libc.MapFlags Flags = Libc.MapFlags.Private | Libc.MapFlags.Anonymous | Libc.MapFlags.Populate;
        if (allowHuge)
        {
            nuint huge = Alignment.AlignUp(length, (nuint)PageSizes.HugePage2M);
            nint address = Libc.MMap(0, huge, ReadWrite, Flags | Libc.MapFlags.HugeTlb, -1, 0);
            if (address != Libc.MapFailed) return new PrivateRegion(new SafeMappingHandle(address, huge));
        }
        nuint small = Alignment.AlignUp(length, (nuint)PageSizes.SmallPage);
        return new PrivateRegion(SafeMappingHandle.Map(-1, small, ReadWrite, Flags));
    }

    /// <summary>True when [va, va+length) lies within this region.</summary>
    public bool Contains(nint va, nuint length) =>
        va >= _mapping.Address && (nuint)(va - _mapping.Address) + length <= _mapping.Length;

    public void Dispose() => _mapping.Dispose();
}
