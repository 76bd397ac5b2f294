using System.Runtime.InteropServices;

namespace Pmd.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "ioctl", SetLastError = true)]
    internal static unsafe partial int Ioctl(int fd, nuint request, void* arg);

    [LibraryImport(Name, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, nuint arg);
}
