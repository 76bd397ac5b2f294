using System.Runtime.InteropServices;

namespace Pmd.Interop;

internal static partial class Libc
{
    [Flags]
    internal enum Prot
    {
        None = 0,
        Read = 0x1,
        Write = 0x2,
        Exec = 0x4,
    }

    [Flags]
    internal enum MapFlags
    {
        Shared = 0x01,
        Private = 0x02,
        Fixed = 0x10,
        Anonymous = 0x20,
        Populate = 0x8000,
        HugeTlb = 0x40000,
    }

    internal static readonly nint MapFailed = -1;

    [LibraryImport(Name, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint MMap(nint addr, nuint length, Prot prot, MapFlags flags, int fd, long offset);

    [LibraryImport(Name, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int MUnmap(nint addr, nuint length);

    [LibraryImport(Name, EntryPoint = "mprotect", SetLastError = true)]
    internal static partial int MProtect(nint addr, nuint length, Prot prot);

    [LibraryImport(Name, EntryPoint = "mlock", SetLastError = true)]
    internal static partial int MLock(nint addr, nuint length);
}
