using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pmd.VirtioNet.Rings;

/// <summary>
/// Whether this CPU can take the rings' vectorized path, chosen once at queue setup (the
/// <c>vectorized</c> devarg forces it either way). The path stores a descriptor as one 16-byte
/// vector; with AVX, Intel and AMD guarantee that an aligned 16-byte store is single-copy atomic,
/// so a device never sees half of one, whatever order it reads the fields in.
/// </summary>
internal static class VectorPath
{
    public static bool IsSupported => Vector128.IsHardwareAccelerated && Avx.IsSupported;

    /// <summary>What the CPU offers, for the port's log line and the error of a forced vectorized=1.</summary>
    public static string Describe() =>
        $"Vector128 {(Vector128.IsHardwareAccelerated ? "accelerated" : "not accelerated")}, AVX {(Avx.IsSupported ? "yes" : "no")}, AVX2 {(Avx2.IsSupported ? "yes" : "no")}, AVX-512F {(Avx512F.IsSupported ? "yes" : "no")}";
}
