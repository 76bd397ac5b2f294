using System.Runtime.InteropServices;

namespace Pmd.Interop;

/// <summary>Owns one mmap'ed range and unmaps it exactly once.</summary>
internal sealed class SafeMappingHandle : SafeHandle
{
    public SafeMappingHandle(nint address, nuint length) : base(Libc.MapFailed, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    public nuint Length { get; }

    public nint Address => handle;

    public override bool IsInvalid => handle == Libc.MapFailed || handle == 0;

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> (or anonymous memory for -1).</summary>
    internal static SafeMappingHandle Map(int fd, nuint length, Libc.Prot prot, Libc.MapFlags flags, long offset = 0)
    {
        nint address = Libc.MMap(0, length, prot, flags, fd, offset);
        if (address == Libc.MapFailed) throw Libc.Error("mmap");
        return new SafeMappingHandle(address, length);
    }

    protected override bool ReleaseHandle() => Libc.MUnmap(handle, Length) == 0;
}
