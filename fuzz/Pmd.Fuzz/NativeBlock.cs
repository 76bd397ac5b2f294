using System.Runtime.InteropServices;

namespace Pmd.Fuzz;

/// <summary>
/// Zeroed, cache-line aligned native memory standing in for memory shared with a device: rings
/// take raw pointers, and the harness plays the device by writing into the same bytes.
/// </summary>
internal sealed unsafe class NativeBlock : IDisposable
{
    public NativeBlock(int bytes)
    {
        Length = bytes;
        Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        NativeMemory.Clear(Pointer, (nuint)bytes);
    }

    public byte* Pointer { get; private set; }

    public int Length { get; }

    public void Dispose()
    {
        if (Pointer == null) return;
        NativeMemory.AlignedFree(Pointer);
        Pointer = null;
    }
}
