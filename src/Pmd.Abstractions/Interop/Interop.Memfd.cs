using System.Runtime.InteropServices;

namespace Pmd.Interop;

internal static partial class Libc
{
    [Flags]
    internal enum MemfdFlags : uint
    {
        CloExec = 0x1,
        AllowSealing = 0x2,
        HugeTlb = 0x4,
        /// <summary>MFD_HUGE_2MB: log2(2 MiB) shifted into the size bits.</summary>
        Huge2MB = 21u << 26,
    }

    [LibraryImport(Name, EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MemfdCreate(string name, MemfdFlags flags);
}
