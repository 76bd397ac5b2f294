using System.Runtime.InteropServices;

namespace Pmd.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Name, EntryPoint = "read", SetLastError = true)]
    internal static unsafe partial nint Read(int fd, void* buf, nuint count);

    [LibraryImport(Name, EntryPoint = "write", SetLastError = true)]
    internal static unsafe partial nint Write(int fd, void* buf, nuint count);

    [LibraryImport(Name, EntryPoint = "pread", SetLastError = true)]
    internal static unsafe partial nint PRead(int fd, void* buf, nuint count, long offset);

    [LibraryImport(Name, EntryPoint = "pwrite", SetLastError = true)]
    internal static unsafe partial nint PWrite(int fd, void* buf, nuint count, long offset);

    [LibraryImport(Name, EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int FTruncate(int fd, long length);

    [LibraryImport(Name, EntryPoint = "dup", SetLastError = true)]
    internal static partial int Dup(int fd);

    [LibraryImport(Name, EntryPoint = "getpid")]
    internal static partial int GetPid();

    [LibraryImport(Name, EntryPoint = "getuid")]
    internal static partial uint GetUid();

    [LibraryImport(Name, EntryPoint = "sysconf", SetLastError = true)]
    internal static partial long SysConf(int name);

    internal const int _SC_PAGESIZE = 30;
}
