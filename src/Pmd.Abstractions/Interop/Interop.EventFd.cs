using System.Runtime.InteropServices;

namespace Pmd.Interop;

internal static partial class Libc
{
    [Flags]
    internal enum EventFdFlags
    {
        None = 0,
        Semaphore = 0x1,
        NonBlock = 0x800,
        CloExec = 0x80000,
    }

    [LibraryImport(Name, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initval, EventFdFlags flags);
}
