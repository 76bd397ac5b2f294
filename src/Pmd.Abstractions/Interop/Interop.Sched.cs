using System.Runtime.InteropServices;

namespace Pmd.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "sched_setaffinity", SetLastError = true)]
    internal static unsafe partial int SchedSetAffinity(int pid, nuint cpusetsize, ulong* mask);

    [LibraryImport(Name, EntryPoint = "gettid")]
    internal static partial int GetTid();
}
